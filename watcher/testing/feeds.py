"""A real local HTTP server publishing feeds the way a careful web server does: each document
with an ETag (a hash of its bytes) and a Last-Modified (when it was last replaced), and a 304
with no body to a conditional GET that names the current version.

    with FeedServer() as server:
        server.publish("/dfe.atom", data)          # replace a document: new ETag, new date
        url = server.url("/dfe.atom")
        server.answers                             # [(path, status), ...] in order
        server.trickle("/slow.atom", data, pause=0.5)   # a body sent a few bytes at a time

Built on ``ScriptedServer``.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from email.utils import format_datetime

from watcher.testing.scripted import Exchange, ScriptedServer, chunked, reply


class FeedServer(ScriptedServer):
    def __init__(self, content_type: str = "application/atom+xml; charset=utf-8") -> None:
        super().__init__()
        self.content_type = content_type
        self.answers: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def publish(self, path: str, data: bytes, *, validators: bool = True) -> None:
        """Serve ``data`` at ``path`` from now on; ``validators=False`` sends neither an ETag
        nor a Last-Modified, as some servers do."""
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        modified = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)

        def route(exchange: Exchange) -> None:
            asked = exchange.headers.get("If-None-Match")
            if validators and asked is not None and etag in {v.strip() for v in asked.split(",")}:
                self._answered(exchange, 304)
                reply(exchange, 304, headers={"ETag": etag, "Last-Modified": modified})
                return
            headers = {"Content-Type": self.content_type}
            if validators:
                headers |= {"ETag": etag, "Last-Modified": modified}
            self._answered(exchange, 200)
            reply(exchange, 200, data, headers)

        self.routes[path] = route

    def trickle(self, path: str, data: bytes, pause: float, size: int = 64) -> None:
        """Serve ``data`` at ``path`` in chunks of ``size`` bytes, ``pause`` seconds apart."""

        def route(exchange: Exchange) -> None:
            self._answered(exchange, 200)
            pieces = (data[i : i + size] for i in range(0, len(data), size))
            headers = {"Content-Type": self.content_type}
            chunked(exchange, pieces, self.stopping, pause=pause, headers=headers)

        self.routes[path] = route

    def _answered(self, exchange: Exchange, status: int) -> None:
        with self._lock:
            self.answers.append((exchange.path, status))
