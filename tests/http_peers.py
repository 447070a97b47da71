"""Real local peers for the outgoing-HTTP tests (test_http_post, test_http_guard).

with PostServer() as server:                     a real HTTP/1.1 server on 127.0.0.1
    server.answer = lambda exchange: reply(exchange, 200, b"ok")
    server.url("/hook"), server.received         [(path and query, headers, body), ...]
with PostServer(certificate=cert) as server:     the same over TLS (server.sni: names asked)
certificate(tmp_path, "webhook.test")            a self-signed certificate, by openssl
FakeInternet({"93.184.216.34": 8443})            an httpcore backend that reaches a public
                                                 address by connecting to a local port
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpcore
import pytest

from watcher.testing.scripted import Exchange, reply

Answer = Callable[[Exchange], None]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate alone."""
        return ssl.create_default_context(cafile=str(self.cert))


def certificate(folder: Path, name: str) -> Certificate:
    """A self-signed certificate for ``name`` (and 127.0.0.1), made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
        f" -subj /CN={name} -addext subjectAltName=DNS:{name},IP:127.0.0.1"
    ).split()
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return Certificate(cert, key)


class PostServer:
    """Answers every POST with ``answer`` (200 "ok" unless a test sets one) and records it."""

    def __init__(self, certificate: Certificate | None = None) -> None:
        self.answer: Answer = lambda exchange: reply(exchange, 200, b"ok")
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.sni: list[str | None] = []
        self.stopping = threading.Event()
        self._certificate = certificate
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> PostServer:
        server = _Server(("127.0.0.1", 0), _handler(self))
        if self._certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._certificate.cert, self._certificate.key)
            context.sni_callback = self._remember_sni
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def _remember_sni(self, sock: Any, name: str | None, context: ssl.SSLContext) -> None:
        self.sni.append(name)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self._certificate else "http"
        return f"{scheme}://{host}:{self.port}{path}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up, or failed TLS: what the test wanted to see


def _handler(server: PostServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.received.append((self.path, headers, body))
            server.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class FakeInternet(httpcore.NetworkBackend):
    """Stands in for the internet: a connection to one of ``routes``' public addresses goes to
    that port on 127.0.0.1; any other fails. ``asked`` lists the hosts it was asked for."""

    def __init__(self, routes: dict[str, int]) -> None:
        self.routes = routes
        self.asked: list[str] = []
        self._real = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.asked.append(host)
        if host not in self.routes:
            raise httpcore.ConnectError(f"no route to {host}")
        return self._real.connect_tcp(
            "127.0.0.1", self.routes[host], timeout, local_address, socket_options
        )
