"""A fake Committees API over a real local socket, for tests: ``GET /api/Publications`` as the
committees source uses it, with the faults and request log of ``FakeParliamentAPI``.

    GET /api/Publications   StartDate / EndDate (publicationStartDate on or after / on or
                            before; a date alone is midnight), CommitteeId,
                            PublicationTypeIds (repeated), Skip, Take (default 30),
                            SortOrder (PublicationDate{Ascending,Descending}; otherwise an
                            order unrelated to dates). Answers {items, totalResults,
                            itemsPerPage}.

It serves the recorded response in ``data/committees/`` (``load_publications``) by default.
Faults aimed at ``endpoint="list"`` hit the publications list.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watcher.testing.fakeapi import Endpoint, FakeParliamentAPI, _int, _json, _problem

PUBLICATIONS_PATH = "/api/Publications"
DEFAULT_TAKE = 30
JSON = {"Content-Type": "application/json"}


def load_publications() -> list[dict[str, Any]]:
    """The publications of every recorded response in ``data/committees/*.json``."""
    out: list[dict[str, Any]] = []
    data = resources.files("watcher.testing") / "data" / "committees"
    for item in sorted(data.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            out.extend(json.loads(item.read_text(encoding="utf-8"))["items"])
    return out


class FakeCommitteesAPI(FakeParliamentAPI):
    """``with FakeCommitteesAPI.with_fixtures() as api: ... api.base_url ...``"""

    def __init__(
        self,
        publications: Iterable[Mapping[str, Any]] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__((), host=host, port=port)
        self._publications: dict[int, dict[str, Any]] = {}
        self._target = threading.local()  # the request target, for repeated parameters
        self._targets: list[str] = []
        for value in publications:
            self.add_publication(value)

    @classmethod
    def with_fixtures(cls, *, host: str = "127.0.0.1", port: int = 0) -> FakeCommitteesAPI:
        return cls(load_publications(), host=host, port=port)

    def add_publication(self, value: Mapping[str, Any]) -> None:
        """Hold a publication, or replace the one with its id."""
        pid = value.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise ValueError(f"a publication needs an integer id, not {pid!r}")
        with self._lock:
            self._publications[pid] = copy.deepcopy(dict(value))

    @property
    def publications(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._publications)

    # --- serving -----------------------------------------------------------------------------

    @property
    def targets(self) -> list[str]:
        """Every request target (path and query, repeated names and all), oldest first;
        ``requests`` keeps one value per name."""
        with self._lock:
            return list(self._targets)

    def clear_requests(self) -> None:
        super().clear_requests()
        with self._lock:
            self._targets.clear()

    def _respond(self, target: str) -> tuple[int, dict[str, str], bytes]:
        self._target.value = target
        with self._lock:
            self._targets.append(target)
        return super()._respond(target)

    def _endpoint(self, path: str) -> Endpoint | None:
        return "list" if path.lower() == PUBLICATIONS_PATH.lower() else None

    def _route(
        self, endpoint: Endpoint | None, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if endpoint != "list":
            return _problem(404, "Not found")
        repeated = {k.lower(): v for k, v in parse_qs(urlsplit(self._target.value).query).items()}
        try:
            types = {int(t) for t in repeated.get("publicationtypeids", [])}
            skip = _int(query, "skip", 0)
            take = _int(query, "take", DEFAULT_TAKE)
            committee = _int(query, "committeeid", 0)
        except ValueError as exc:
            return _problem(400, str(exc))
        with self._lock:
            held = copy.deepcopy(list(self._publications.values()))
        chosen = [
            v
            for v in held
            if _in_window(v, query)
            and (not committee or (v.get("committee") or {}).get("id") == committee)
            and (not types or (v.get("type") or {}).get("id") in types)
        ]
        order = query.get("sortorder", "")
        if order in ("PublicationDateAscending", "PublicationDateDescending"):
            chosen.sort(
                key=lambda v: (v.get("publicationStartDate") or "", v["id"]),
                reverse=order == "PublicationDateDescending",
            )
        else:
            chosen.sort(key=lambda v: hashlib.sha256(str(v["id"]).encode()).hexdigest())
        body = {"items": chosen[skip : skip + take], "totalResults": len(chosen)}
        body["itemsPerPage"] = take
        return 200, JSON, _json(body)


def _in_window(value: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    published = _moment(value.get("publicationStartDate") or "")
    low, high = query.get("startdate"), query.get("enddate")
    if low and (not published or published < _moment(low)):
        return False
    return not high or bool(published and published <= _moment(high))


def _moment(text: str) -> str:
    """An ISO date or date-time, comparable as text: a date alone is its midnight."""
    return text if "T" in text or not text else f"{text}T00:00:00"


__all__ = ["PUBLICATIONS_PATH", "FakeCommitteesAPI", "load_publications"]
