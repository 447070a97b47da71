"""A fake Hansard API over a real local socket, for tests: the search and debate endpoints the
Hansard source uses, with the faults and request log of ``FakeParliamentAPI``.

    GET /search/contributions/{Spoken|Written}.json
        queryParameters.startDate/endDate (sitting days, inclusive), .house, .skip, .take
        (both optional: all results), .orderBy (SittingDateAsc|SittingDateDesc; otherwise an
        order unrelated to dates). Answers {Results, TotalResultCount, SpokenResultCount ...}.
        Parameters without the ``queryParameters.`` prefix are ignored, as the spec names none.
    GET /debates/debate/{DebateSectionExtId}.json
        a Debate {Overview, Items, ChildDebates} whose Items are the held contributions of
        that debate, each with its full text as ``Value``.

``full_text=False`` serves search results without ``ContributionTextFull`` (the snippet in
``ContributionText`` only), so the source has to ask the debate for the text. Faults aimed at
``endpoint="list"`` hit the search, ``"detail"`` the debate.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from watcher.testing.fakeapi import Endpoint, FakeParliamentAPI, _int, _json, _problem

SEARCH_PREFIX = "/search/contributions/"
DEBATE_PREFIX = "/debates/debate/"
TYPES = ("Spoken", "Written")
JSON = {"Content-Type": "application/json"}
P = "queryparameters."  # the fake sees query names lower-cased, as ASP.NET matches them


def load_contributions() -> dict[str, list[dict[str, Any]]]:
    """The fixture contributions by type (``data/hansard/contributions.json``)."""
    path = resources.files("watcher.testing") / "data" / "hansard" / "contributions.json"
    loaded: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


class FakeHansardAPI(FakeParliamentAPI):
    """``with FakeHansardAPI.with_fixtures() as api: ... api.base_url ...``"""

    def __init__(
        self,
        contributions: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        full_text: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__((), host=host, port=port)
        self.full_text = full_text
        self._held: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TYPES}
        for kind, values in (contributions or {}).items():
            for value in values:
                self.add_contribution(kind, value)

    @classmethod
    def with_fixtures(
        cls, *, full_text: bool = True, host: str = "127.0.0.1", port: int = 0
    ) -> FakeHansardAPI:
        return cls(load_contributions(), full_text=full_text, host=host, port=port)

    # --- data --------------------------------------------------------------------------------

    def add_contribution(self, kind: str, value: Mapping[str, Any]) -> None:
        """Hold a ``SearchReferencesItem`` of type ``kind`` (Spoken or Written), or replace
        the one with its ``ContributionExtId``."""
        if kind not in TYPES:
            raise ValueError(f"contribution type {kind!r}: expected one of {TYPES}")
        ext = value.get("ContributionExtId") or str(value.get("ItemId"))
        with self._lock:
            self._held[kind][ext] = copy.deepcopy(dict(value))

    def contributions(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._held[kind].values()))

    # --- serving -----------------------------------------------------------------------------

    def _endpoint(self, path: str) -> Endpoint | None:
        if path.startswith(SEARCH_PREFIX):
            return "list"
        if path.startswith(DEBATE_PREFIX):
            return "detail"
        return None

    def _route(
        self, endpoint: Endpoint | None, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if endpoint == "list":
            name = path[len(SEARCH_PREFIX) :]
            kind, _, fmt = name.partition(".")
            if fmt != "json" or kind not in TYPES:
                return _problem(404, f"No contributions of type {name!r}")
            try:
                return 200, JSON, _json(self._search(kind, query))
            except ValueError as exc:
                return _problem(400, str(exc))
        if endpoint == "detail":
            ext, _, fmt = path[len(DEBATE_PREFIX) :].partition(".")
            found = self._debate(ext)
            if fmt != "json" or found is None:
                return _problem(404, f"No debate section {ext!r}")
            return 200, JSON, _json(found)
        return _problem(404, "Not found")

    def _search(self, kind: str, query: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            held = copy.deepcopy(list(self._held[kind].values()))
        chosen = [v for v in held if _selected(v, query)]
        order = query.get(P + "orderby", "")
        if order in ("SittingDateAsc", "SittingDateDesc"):
            chosen.sort(
                key=lambda v: (v.get("SittingDate") or "", v.get("OrderInDebateSection") or 0),
                reverse=order == "SittingDateDesc",
            )
        else:
            chosen.sort(key=lambda v: hashlib.sha256(_ext(v).encode()).hexdigest())
        skip = _int(query, P + "skip", 0)
        take = _int(query, P + "take", len(chosen))
        page = chosen[skip : skip + take]
        if not self.full_text:
            for v in page:
                v["ContributionTextFull"] = None
        return {
            "SearchTerms": [],
            "SpokenResultCount": len(chosen) if kind == "Spoken" else 0,
            "WrittenResultCount": len(chosen) if kind == "Written" else 0,
            "CorrectionsResultCount": 0,
            "DivisionsResultCount": 0,
            "Results": page,
            "TotalResultCount": len(chosen),
        }

    def _debate(self, ext: str) -> dict[str, Any] | None:
        with self._lock:
            items = [
                copy.deepcopy(v)
                for held in self._held.values()
                for v in held.values()
                if (v.get("DebateSectionExtId") or "").lower() == ext.lower()
            ]
        if not items:
            return None
        items.sort(key=lambda v: v.get("OrderInDebateSection") or 0)
        first = items[0]
        return {
            "Overview": {
                "Id": first.get("DebateSectionId"),
                "ExtId": first.get("DebateSectionExtId"),
                "Title": first.get("DebateSection"),
                "Date": first.get("SittingDate"),
                "House": first.get("House"),
                "Source": "RollingHansard",
            },
            "Navigator": [],
            "Items": [
                {
                    "ItemType": "Contribution",
                    "ItemId": v.get("ItemId"),
                    "MemberId": v.get("MemberId"),
                    "AttributedTo": v.get("AttributedTo"),
                    "Value": v.get("ContributionTextFull") or v.get("ContributionText"),
                    "OrderInSection": v.get("OrderInDebateSection"),
                    "Timecode": v.get("Timecode"),
                    "ExternalId": v.get("ContributionExtId"),
                    "HRSTag": v.get("HRSTag"),
                    "HansardSection": v.get("HansardSection"),
                    "UIN": None,
                    "IsReiteration": False,
                }
                for v in items
            ],
            "ChildDebates": [],
        }


def _selected(value: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    house = query.get(P + "house")
    if house and (value.get("House") or "").lower() != house.lower():
        return False
    sitting = (value.get("SittingDate") or "")[:10]
    low, high = query.get(P + "startdate"), query.get(P + "enddate")
    if low and (not sitting or sitting < low[:10]):
        return False
    return not high or bool(sitting and sitting <= high[:10])


def _ext(value: Mapping[str, Any]) -> str:
    return str(value.get("ContributionExtId") or value.get("ItemId"))


__all__ = ["DEBATE_PREFIX", "SEARCH_PREFIX", "FakeHansardAPI", "load_contributions"]
