"""The one polite, thread-safe HTTP client every source uses: bytes or JSON, conditional GET,
a size limit and a total time limit on every answer, and for user-supplied URLs (feeds) the
address guard (``guard``), which ``allow_private_networks=False`` turns on.

Polite means: a descriptive User-Agent on every request, a timeout on every socket operation,
at most ``max_concurrency`` requests in flight and at most ``max_per_second`` started per second
across all threads, and retries with exponential backoff and jitter on 429, 5xx and transport
failures, honouring ``Retry-After`` when the server sends one.

Guarded means: a body is streamed and abandoned as soon as it passes ``max_bytes`` (a declared
``Content-Length`` over the limit fails before reading), and it must arrive whole within
``deadline`` seconds of asking, however slowly the server trickles it (httpx's timeouts bound
each read, not the whole answer). The deadline is checked between reads of the body; the
headers are bounded only by the read timeout per read and httpcore's 100 KB cap on their size
(a server trickling its headers is not cut off at the deadline: httpx offers no hook there).

    client.get(url_or_path, params, headers=, validators=) -> Response   the body, or a 304
    client.get_json(url_or_path, params) -> Any                           decoded JSON
    Response.json() -> Any                                                the same decoding

A relative path is joined to ``base_url``; an absolute URL is asked as it is (feeds have no
base URL). Sources see only ``Response`` and ``Validators``, never httpx types.

This is where httpx exceptions are translated into ours for sources (``post`` does it for
channels):

    FetchError            the network or the server failed after retries; a 4xx other than 429
    │                     (not retried); a Retry-After longer than max_retry_after (given up at
    │                     once); a URL that cannot be asked; too many redirects; a host (or a
    │                     redirect's) the guard refuses (not retried)
    ├── TooLargeError     the body, declared or as read, is bigger than max_bytes (not retried)
    └── DeadlineError     the answer took longer than deadline to arrive whole (not retried)
    ParseError            a body whose Content-Encoding does not decode; for JSON, a body that
                          is empty, not UTF-8, not JSON, or nested too deeply

What the bytes or the JSON mean is left to the source that asked for them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from watcher.errors import DeadlineError, FetchError, ParseError, TooLargeError
from watcher.http.guard import GuardedBackend, RefusedAddress
from watcher.http.headers import retry_after
from watcher.http.network import BackendTransport
from watcher.http.response import Response, Validators, decode_json, label
from watcher.logs import q

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_DEADLINE = 60.0  # seconds for one attempt: connecting, the headers and the whole body

Params = Mapping[str, str | int | float | bool]
T = TypeVar("T")


class _RateLimiter:
    """Spaces request starts at least ``1 / per_second`` apart, across threads."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0  # monotonic time of the next free slot
        self._lock = threading.Lock()

    def wait(self) -> None:
        # Reserve a slot under the lock but sleep outside it, so waiting threads queue up
        # behind each other instead of behind the lock.
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class _Retry(Exception):  # noqa: N818 - a control-flow signal, not an error we raise
    """One failed attempt that may be retried."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class PoliteClient:
    """GETs from one base URL, or from absolute URLs when ``base_url`` is empty or None.

    ``max_bytes`` and ``deadline`` are the defaults for every call; a call may pass its own.
    ``allow_private_networks=False`` guards every connection (``guard``): for URLs a user
    wrote. A ``transport`` replaces the network, guard and all (tests, the demo). Safe to
    share between threads.
    """

    def __init__(
        self,
        base_url: str | None,
        user_agent: str,
        timeout: float,
        max_concurrency: int,
        max_per_second: float,
        retries: int,
        backoff: float,
        max_retry_after: float,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float = DEFAULT_DEADLINE,
        transport: httpx.BaseTransport | None = None,
        allow_private_networks: bool = True,
    ) -> None:
        if max_concurrency < 1 or max_per_second <= 0 or retries < 0:
            raise ValueError("max_concurrency >= 1, max_per_second > 0 and retries >= 0")
        _check_limits(max_bytes, deadline)
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._limiter = _RateLimiter(max_per_second)
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        if transport is None and not allow_private_networks:
            transport = BackendTransport(GuardedBackend(), limits=limits)
        self._client = httpx.Client(
            base_url=base_url or "",
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport,
            follow_redirects=True,
        )

    def get(
        self,
        url_or_path: str,
        params: Params | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
        max_bytes: int | None = None,
        deadline: float | None = None,
    ) -> Response:
        """The whole answer to ``GET url_or_path``, with ``params`` added to its query.

        With ``validators``, the request is conditional and an unchanged resource comes back
        as a ``Response`` whose ``not_modified`` is true. Raises ``FetchError`` (or one of its
        ``TooLargeError``, ``DeadlineError``) or ``ParseError``; see the module docstring.
        """
        limit = self._max_bytes if max_bytes is None else max_bytes
        seconds = self._deadline if deadline is None else deadline
        _check_limits(limit, seconds)
        what = f"GET {label(url_or_path)}"
        sent = {**(headers or {}), **(validators.headers() if validators else {})}
        try:
            target = httpx.URL(url_or_path)
            # Merged, not replaced: a feed URL may carry a query of its own.
            target = target.copy_merge_params(dict(params)) if params else target
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(f"{what}: not a URL we can ask ({exc})") from exc
        return self._with_retries(
            what, lambda: self._attempt(what, target, sent, validators, limit, seconds)
        )

    def get_json(
        self,
        url_or_path: str,
        params: Params | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        deadline: float | None = None,
    ) -> Any:
        """The decoded JSON body of ``GET url_or_path``. Raises ``FetchError`` or ``ParseError``."""
        response = self.get(
            url_or_path,
            params,
            headers={"Accept": "application/json", **(headers or {})},
            max_bytes=max_bytes,
            deadline=deadline,
        )
        return decode_json(response.content, f"GET {label(url_or_path)}")

    def close(self) -> None:
        self._client.close()

    # --- retries -----------------------------------------------------------------------------

    def _with_retries(self, what: str, attempt_once: Callable[[], T]) -> T:
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return attempt_once()
            except _Retry as retry:
                if attempt == attempts:
                    raise FetchError(
                        f"{what} failed after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''}: {retry.reason}"
                    ) from retry.__cause__
                wait = self._wait(what, retry, attempt)
                logger.warning(
                    "event=http_retry request=%s status=%s attempt=%d wait=%.3f reason=%s",
                    q(what),
                    retry.status if retry.status is not None else "-",
                    attempt,
                    wait,
                    q(retry.reason),
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, what: str, retry: _Retry, attempt: int) -> float:
        if retry.retry_after is not None:
            if retry.retry_after > self._max_retry_after:
                # A server that asks for a long pause gets it: we stop now and the next
                # scheduled poll tries again, instead of holding a worker asleep.
                raise FetchError(
                    f"{what}: {retry.reason} after {attempt} attempt"
                    f"{'s' if attempt > 1 else ''}; server asks to retry after "
                    f"{retry.retry_after:.0f}s, more than max_retry_after "
                    f"{self._max_retry_after:.0f}s"
                )
            return retry.retry_after
        # Full exponential step plus up to one step of jitter, so parallel workers spread out.
        step: float = self._backoff * 2.0 ** (attempt - 1)
        return step + random.uniform(0, step)

    # --- one attempt -------------------------------------------------------------------------

    def _attempt(
        self,
        what: str,
        target: httpx.URL,
        headers: Mapping[str, str],
        validators: Validators | None,
        max_bytes: int,
        deadline: float,
    ) -> Response:
        with self._slots:
            self._limiter.wait()
            ends = time.monotonic() + deadline
            # No single read may outlast the whole deadline either.
            timeout = httpx.Timeout(min(self._timeout, deadline))
            try:
                with self._client.stream("GET", target, headers=headers, timeout=timeout) as r:
                    return _read(r, what, validators, max_bytes, ends, deadline)
            except RefusedAddress as exc:
                # The same answer next time: not retried.
                raise FetchError(f"{what}: {exc}") from exc
            except httpx.UnsupportedProtocol as exc:
                # A TransportError to httpx, but asking again would not help.
                raise FetchError(f"{what}: not a URL we can ask ({exc})") from exc
            except httpx.TimeoutException as exc:
                raise _Retry(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _Retry(f"transport error ({type(exc).__name__}: {exc})") from exc
            except httpx.DecodingError as exc:
                raise ParseError(f"{what}: undecodable response body: {exc}") from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _read(
    r: httpx.Response,
    what: str,
    validators: Validators | None,
    max_bytes: int,
    ends: float,
    deadline: float,
) -> Response:
    """The answer in ``r``, read whole within the limits, or the error it deserves."""
    status = r.status_code
    if status == 304:
        # A 304 need not repeat the validators; the ones we sent are then still good.
        kept = validators or Validators()
        return Response(
            304,
            str(r.url),
            etag=r.headers.get("ETag") or kept.etag,
            last_modified=r.headers.get("Last-Modified") or kept.last_modified,
        )
    if status == 429 or status >= 500:
        raise _Retry(f"HTTP {status}", status, retry_after(r.headers.get("Retry-After")))
    if not 200 <= status < 300:
        # Other 4xx mean our request is wrong or the item is gone: asking again won't help.
        raise FetchError(f"{what}: HTTP {status} (not retried)")
    too_large = f"{what}: response is larger than the {_size(max_bytes)} limit"
    declared = r.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"{too_large} (Content-Length {declared})", max_bytes)
    # The deadline is checked on every raw read, before decompression: a compressed trickle
    # may decode to nothing for a long time, and so never reach the loop below.
    if not isinstance(r.stream, httpx.SyncByteStream):  # pragma: no cover - never async
        raise TypeError("a synchronous client reads synchronous streams")
    late = DeadlineError(
        f"{what}: response took longer than the {deadline:g}s deadline to arrive whole", deadline
    )
    r.stream = _Deadlined(r.stream, ends, late)
    body = bytearray()
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise TooLargeError(f"{too_large} (stopped reading)", max_bytes)
    return Response(
        status,
        str(r.url),
        bytes(body),
        content_type=r.headers.get("Content-Type"),
        etag=r.headers.get("ETag"),
        last_modified=r.headers.get("Last-Modified"),
    )


class _Deadlined(httpx.SyncByteStream):
    """A response's raw byte stream that raises ``error`` once ``ends`` has passed."""

    def __init__(self, inner: httpx.SyncByteStream, ends: float, error: DeadlineError) -> None:
        self._inner, self._ends, self._error = inner, ends, error

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._ends:
                raise self._error
            yield chunk

    def close(self) -> None:
        self._inner.close()


def _check_limits(max_bytes: int, deadline: float) -> None:
    if max_bytes < 1 or deadline <= 0:
        raise ValueError("max_bytes >= 1 and deadline > 0")


def _size(n: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
