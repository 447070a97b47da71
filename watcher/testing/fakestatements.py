"""The fake Written Questions API, serving written statements as well, for tests.

``FakeStatementsAPI`` is a ``FakeParliamentAPI`` (the same host serves both, as the real one
does, with the same faults and request log) that also holds statements, each shaped as the
``value`` of a detail response, and serves the endpoints the statements source uses:

    GET /api/writtenstatements/statements         madeWhenFrom/To, house, skip, take,
                                                  expandMember; text truncated as the questions
                                                  list truncates answers
    GET /api/writtenstatements/statements/{id}    the spec's envelope for it, a search result
                                                  with one item: {totalResults, results}
    GET /api/writtenstatements/statements/{date}/{uin}   {value, links}

Faults aimed at ``endpoint="list"`` or ``"detail"`` hit the statements endpoints too; aim at
one with ``target=STATEMENTS_PATH``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from watcher.testing.fakeapi import (
    DEFAULT_TAKE,
    TRUNCATE_AT,
    Endpoint,
    FakeParliamentAPI,
    _int,
    _json,
    _problem,
    load_fixtures,
)
from watcher.text import html_to_text

STATEMENTS_PATH = "/api/writtenstatements/statements"
JSON = {"Content-Type": "application/json"}


def load_statements() -> list[dict[str, Any]]:
    """Every statement value in ``watcher/testing/data/statements/*.json``."""
    values: list[dict[str, Any]] = []
    data = resources.files("watcher.testing") / "data" / "statements"
    for item in sorted(data.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            loaded = json.loads(item.read_text(encoding="utf-8"))
            values.extend(loaded if isinstance(loaded, list) else [loaded])
    return values


class FakeStatementsAPI(FakeParliamentAPI):
    """``with FakeStatementsAPI.with_fixtures() as api: ... api.base_url ...``"""

    def __init__(
        self,
        values: Iterable[Mapping[str, Any]] = (),
        *,
        statements: Iterable[Mapping[str, Any]] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._statements: dict[int, dict[str, Any]] = {}
        super().__init__(values, host=host, port=port)
        for value in statements:
            self.add_statement(value)

    @classmethod
    def with_fixtures(cls, *, host: str = "127.0.0.1", port: int = 0) -> FakeStatementsAPI:
        return cls(load_fixtures(), statements=load_statements(), host=host, port=port)

    # --- data --------------------------------------------------------------------------------

    def add_statement(self, value: Mapping[str, Any]) -> None:
        sid = _id_of(value)
        with self._lock:
            if sid in self._statements:
                raise ValueError(f"statement {sid} is already held; use replace_statement()")
            self._statements[sid] = copy.deepcopy(dict(value))

    def replace_statement(self, value: Mapping[str, Any]) -> None:
        sid = _id_of(value)
        with self._lock:
            if sid not in self._statements:
                raise KeyError(f"statement {sid} is not held; use add_statement()")
            self._statements[sid] = copy.deepcopy(dict(value))

    @property
    def statements(self) -> dict[int, dict[str, Any]]:
        """Copies of every held statement by id; change one and ``replace_statement`` it."""
        with self._lock:
            return copy.deepcopy(self._statements)

    # --- serving -----------------------------------------------------------------------------

    def _endpoint(self, path: str) -> Endpoint | None:
        if path == STATEMENTS_PATH:
            return "list"
        if path.startswith(STATEMENTS_PATH + "/"):
            return "detail"
        return super()._endpoint(path)

    def _route(
        self, endpoint: Endpoint | None, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if path != STATEMENTS_PATH and not path.startswith(STATEMENTS_PATH + "/"):
            return super()._route(endpoint, path, query)
        expand = query.get("expandmember", "").lower() == "true"
        with self._lock:
            held = copy.deepcopy(list(self._statements.values()))
        if path == STATEMENTS_PATH:
            try:
                body = _list(held, query, expand)
            except ValueError as exc:
                return _problem(400, str(exc))
            return 200, JSON, _json(body)
        tail = path[len(STATEMENTS_PATH) + 1 :].split("/")
        if len(tail) == 1 and tail[0].isdigit():
            found = [v for v in held if v["id"] == int(tail[0])]
            if not found:
                return _problem(404, f"No written statement with id {tail[0]}")
            item = {"value": _member(found[0], expand), "links": _links(found[0])}
            return 200, JSON, _json({"totalResults": 1, "results": [item]})
        if len(tail) == 2:
            made, uin = tail
            found = [
                v for v in held if (v.get("dateMade") or "")[:10] == made[:10] and v["uin"] == uin
            ]
            if not found:
                return _problem(404, f"No written statement {uin} made on {made}")
            return 200, JSON, _json({"value": _member(found[0], expand), "links": _links(found[0])})
        return _problem(404, "Not found")


def _list(held: list[dict[str, Any]], query: Mapping[str, str], expand: bool) -> dict[str, Any]:
    skip = _int(query, "skip", 0)
    take = _int(query, "take", DEFAULT_TAKE)
    chosen = [v for v in held if _selected(v, query)]
    # Deterministic but unrelated to dates or ids, so a client cannot rely on the order.
    chosen.sort(key=lambda v: hashlib.sha256(str(v["id"]).encode()).hexdigest())
    return {
        "totalResults": len(chosen),
        "results": [
            {"value": _truncated(_member(v, expand)), "links": _links(v)}
            for v in chosen[skip : skip + take]
        ],
    }


def _selected(value: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    if "house" in query and value.get("house") != query["house"]:
        return False
    made = (value.get("dateMade") or "")[:10]
    low, high = query.get("madewhenfrom"), query.get("madewhento")
    if low is not None and (not made or made < low[:10]):
        return False
    return high is None or bool(made and made <= high[:10])


def _truncated(value: dict[str, Any]) -> dict[str, Any]:
    """A detail value cut down the way the list cuts it: plain text, 255 characters and
    ``...``, and (as the list carries none) no attachments."""
    text = value.get("text")
    if isinstance(text, str) and text:
        plain = " ".join(html_to_text(text).split())
        value["text"] = plain[:TRUNCATE_AT] + "..." if len(plain) > TRUNCATE_AT else plain
    value["attachments"] = []
    return value


def _member(value: dict[str, Any], expand: bool) -> dict[str, Any]:
    if not expand:
        value["member"] = None
    return value


def _links(value: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"/WrittenStatements/{value['id']}", "method": "GET"}]


def _id_of(value: Mapping[str, Any]) -> int:
    sid = value.get("id")
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise ValueError(f"a statement value needs an integer id, not {sid!r}")
    return sid


__all__ = ["STATEMENTS_PATH", "FakeStatementsAPI", "load_statements"]
