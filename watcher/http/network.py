"""Plugging our own network backends into httpx: the transport, and a deadline every socket
operation of a request respects.

    BackendTransport(backend, limits=, verify=)   an httpx.HTTPTransport whose connections the
                                                  backend makes (the address guard, a deadline)
    DeadlineBackend(inner)                        every connect, TLS handshake, read and write
                                                  ends by the deadline set around the request:
    with deadline(seconds): transport.handle_request(...)

httpx (0.28) offers no way to hand ``HTTPTransport`` an httpcore network backend (encode/httpx
discussion 3180, pull request 3749), although httpcore's ``ConnectionPool`` takes one. So
``BackendTransport`` lets ``HTTPTransport`` build everything as usual, then replaces its pool
with one that uses the backend: the request and exception mapping stay httpx's own. If a later
httpx renamed the pool's attribute, the guard's tests would fail, not silently pass.

httpx's timeouts bound each socket operation; a server that trickles its headers a byte at a
time within each timeout would hold a caller for as long as it likes. ``deadline`` bounds the
whole exchange: each operation gets at most the time left, and none starts after it has run
out (httpcore's ``ConnectTimeout``, ``ReadTimeout`` or ``WriteTimeout``, as for any timeout).
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "watcher_http_deadline", default=None
)


class BackendTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (HTTP/1.1, no proxy) whose connections ``backend`` makes."""

    def __init__(
        self,
        backend: httpcore.NetworkBackend,
        *,
        limits: httpx.Limits,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        context = httpx.create_ssl_context(verify=verify)  # built once, for both pools
        super().__init__(verify=context, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Inside, every network operation of this thread made through a ``DeadlineBackend`` ends
    within ``seconds`` of entering."""
    token = _ENDS.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _ENDS.reset(token)


def _capped(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """``timeout``, or less if the deadline comes first; ``late`` once it has passed."""
    ends = _ENDS.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise late("the deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineBackend(httpcore.NetworkBackend):
    """``inner``, with every operation bounded by the current ``deadline`` (none outside one)."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _capped(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _capped(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
