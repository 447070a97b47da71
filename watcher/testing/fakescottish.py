"""A real local HTTP server imitating the Scottish Parliament's yearly questions download
(``GET /api/motionsquestionsanswersquestions?year=YYYY``), for tests and demos.

    with ScottishDataServer.with_fixtures() as server:     # data/scottish/YYYY.json
        server.publish(2024, items)      # replace a year's file: a new ETag and Last-Modified
        server.answers                   # [(year, status), ...] in order
        server.requests                  # as ScriptedServer records them

Each year is served whole with an ETag (a hash of its bytes) and a Last-Modified, and a 304 to
a conditional GET naming the current ETag: whether the real service does so is unconfirmed, and
the source works either way. A year with no file is an empty array, as a year not yet begun
would be. Built on ``ScriptedServer``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watcher.testing.scripted import Exchange, ScriptedServer, reply

PATH = "/api/motionsquestionsanswersquestions"


def load_year(year: int) -> list[dict[str, Any]]:
    """The fixture questions of one year (``data/scottish/YYYY.json``), or none."""
    path = resources.files("watcher.testing") / "data" / "scottish" / f"{year}.json"
    if not path.is_file():
        return []
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return items


class ScottishDataServer(ScriptedServer):
    def __init__(self) -> None:
        super().__init__({PATH: self._route})
        self.answers: list[tuple[int, int]] = []
        self._files: dict[int, tuple[bytes, str, str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_fixtures(cls) -> ScottishDataServer:
        server = cls()
        for year in (2023, 2024):
            server.publish(year, load_year(year))
        return server

    def publish(self, year: int, items: Sequence[Any] | bytes) -> None:
        """Serve ``items`` (or these exact bytes) as ``year``'s file from now on."""
        data = items if isinstance(items, bytes) else json.dumps(list(items)).encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        modified = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
        with self._lock:
            self._files[year] = (data, etag, modified)

    def _route(self, exchange: Exchange) -> None:
        query = parse_qs(urlsplit(exchange.path).query)
        raw = query.get("year", [""])[0]
        if not raw.isdigit():
            reply(exchange, 400, b'{"message": "year is required"}')
            return
        year = int(raw)
        with self._lock:
            data, etag, modified = self._files.get(year) or (b"[]", '"empty"', "")
        asked = exchange.headers.get("If-None-Match")
        validators = {"ETag": etag} | ({"Last-Modified": modified} if modified else {})
        if asked is not None and etag in {v.strip() for v in asked.split(",")}:
            self._answered(year, 304)
            reply(exchange, 304, headers=validators)
            return
        self._answered(year, 200)
        reply(exchange, 200, data, {"Content-Type": "application/json"} | validators)

    def _answered(self, year: int, status: int) -> None:
        with self._lock:
            self.answers.append((year, status))
