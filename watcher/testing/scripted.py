"""A real local HTTP/1.1 server whose answers a test writes by hand, for what a fake of one API
cannot show: conditional GET, redirects, bodies of any size or speed, chunked or not.

    def feed(exchange: Exchange) -> None:
        reply(exchange, 200, b"<rss/>", {"ETag": '"v1"'})

    with ScriptedServer({"/feed": feed}) as server:
        client.get(server.url("/feed"))
        server.requests  # [(path and query, {lower-cased header: value}), ...]

A route gets the request handler itself (``Exchange``), so it may answer slowly, in chunks, or
never finish (``chunked`` until ``server.stopping`` is set or the client hangs up).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

Exchange = BaseHTTPRequestHandler
Route = Callable[[Exchange], None]


class ScriptedServer:
    def __init__(self, routes: Mapping[str, Route] | None = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._address = (host, 0)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ScriptedServer:
        self.stopping.clear()
        self._server = _Server(self._address, _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-http-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()  # ends any answer still streaming
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path


def reply(
    exchange: Exchange, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> None:
    """A whole answer with its Content-Length (a 304 or 1xx carries no body)."""
    exchange.send_response(status)
    for name, value in (headers or {}).items():
        exchange.send_header(name, value)
    exchange.send_header("Content-Length", str(len(body)))
    exchange.end_headers()
    if body and status != 304:
        exchange.wfile.write(body)


def chunked(
    exchange: Exchange,
    chunks: Iterable[bytes],
    stopping: threading.Event,
    *,
    pause: float = 0.0,
    headers: Mapping[str, str] | None = None,
) -> None:
    """A 200 in chunked transfer encoding, no length declared, ``pause`` seconds between
    chunks, until ``chunks`` runs out, ``stopping`` is set or the client hangs up."""
    exchange.send_response(200)
    for name, value in (headers or {}).items():
        exchange.send_header(name, value)
    exchange.send_header("Transfer-Encoding", "chunked")
    exchange.end_headers()
    try:
        for chunk in chunks:
            if stopping.is_set():
                return
            if chunk:
                exchange.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                exchange.wfile.flush()
            if pause:
                stopping.wait(pause)
        exchange.wfile.write(b"0\r\n\r\n")
    except ConnectionError:
        pass  # the client stopped reading: what the test wanted to see


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up closes the socket mid-answer; that is a test's point.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and chunked answers, as real servers do
        server_version = "ScriptedServer/1"

        def do_GET(self) -> None:
            server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = server.routes.get(urlsplit(self.path).path)
            if route is None:
                reply(self, 404, b"not found", {"Content-Type": "text/plain"})
            else:
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the requests list is the log

    return Handler
