"""Hansard contributions (spoken and written) as a ``Source``, from the Hansard API's search.

``list`` pages through ``GET /search/contributions/{Spoken|Written}.json`` for the sitting
days of the window and each configured House, with the spec's parameter names
(``queryParameters.startDate``/``endDate``/``house``/``skip``/``take``), until
``TotalResultCount`` is reached. Each ``SearchReferencesItem`` is one contribution.

The spec gives a search result both ``ContributionText`` (a snippet) and
``ContributionTextFull``. When the full text is there, the listing carries the whole record
and nothing is fetched. When it is missing, ``fetch`` asks what the spec offers for the full
text, ``GET /debates/debate/{DebateSectionExtId}.json`` (the debate's ``Items``, each with its
``ExternalId`` and HTML ``Value``), once per debate for all its contributions.

``parse_contribution`` is pure; everything that touches the network goes through
``PoliteClient``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from watcher import text
from watcher.config import HansardSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.kinds.base import facets
from watcher.model import Record, Text, fingerprint_of
from watcher.sources.apijson import check, day, optional
from watcher.sources.base import Cursor, Fetched, ListEntry, Listing
from watcher.sources.common import api_client

logger = logging.getLogger(__name__)

KIND = "hansard_contribution"
SEARCH_PATH = "/search/contributions/{type}.json"
DEBATE_PATH = "/debates/debate/{ext_id}.json"
PUBLIC_URL = "https://hansard.parliament.uk/{house}/{date}/debates/{section}/link"
PARAM = "queryParameters.{}"
# Relevance of a result to a search term: it says nothing about the contribution itself.
VOLATILE = frozenset({"Rank"})


@dataclass(frozen=True)
class _Listed:
    """A contribution as the search listed it, kept for ``fetch`` when its text is cut."""

    value: Mapping[str, Any]
    contribution_type: str
    error: ParseError | None = None


class HansardContributions:
    """Contributions to debates in both Houses. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: HansardSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,  # no use for one: its listing is dated
        allow_private_networks: bool = True,  # its base URL is ours: never guarded
    ) -> None:
        self._config = config
        self._client = api_client(config, user_agent, transport)
        self._lock = threading.Lock()
        self._listed: dict[str, _Listed] = {}  # the last listing's entries without a record

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        listed: dict[str, _Listed] = {}
        error: SourceError | None = None
        for kind in self._config.contributions:
            for house in self._config.houses:
                try:
                    self._page_through(kind, house, since, until, entries, listed)
                except SourceError as exc:
                    logger.warning(
                        "event=list_failed source=%s type=%s house=%s entries=%d error=%r",
                        self.id,
                        kind,
                        house,
                        len(entries),
                        str(exc),
                    )
                    error = exc
                    break
            if error is not None:
                break
        with self._lock:
            self._listed = listed
        if error is None:
            logger.info(
                "event=list_done source=%s since=%s until=%s entries=%d to_fetch=%d",
                self.id,
                since,
                until,
                len(entries),
                len(listed),
            )
        return Listing(tuple(entries.values()), error=error)

    def _page_through(
        self,
        kind: str,
        house: str,
        since: date,
        until: date,
        entries: dict[str, ListEntry],
        listed: dict[str, _Listed],
    ) -> None:
        """Add every contribution of one type and House to ``entries``, page by page."""
        path = SEARCH_PATH.format(type=kind)
        params = {
            PARAM.format("startDate"): since.isoformat(),
            PARAM.format("endDate"): until.isoformat(),
            PARAM.format("house"): house,
            # A stable order, so pages do not shift under a listing that is still growing.
            PARAM.format("orderBy"): "SittingDateAsc",
        }
        skip = 0
        while True:
            page = self._client.get_json(
                path,
                {
                    **params,
                    PARAM.format("skip"): skip,
                    PARAM.format("take"): self._config.page_size,
                },
            )
            total, values = search_page(page)
            for value in values:
                entry, pending = self._entry(value, kind)
                entries[entry.key] = entry
                if pending is not None:
                    listed[entry.key] = pending
                else:
                    listed.pop(entry.key, None)
            skip += len(values)
            if skip >= total:
                return
            if not values:
                # A server that runs dry before its count ends this listing; the next poll
                # looks again rather than looping on a count it cannot reach.
                logger.warning(
                    "event=list_short source=%s type=%s house=%s total=%d got=%d",
                    self.id,
                    kind,
                    house,
                    total,
                    skip,
                )
                return

    def _entry(self, value: Mapping[str, Any], kind: str) -> tuple[ListEntry, _Listed | None]:
        key = contribution_key(value)
        if has_full_text(value):
            try:
                record = parse_contribution(value, self.id, kind)
            except ParseError as exc:
                # Reported by fetch as this item's error: the rest of the page is kept.
                return ListEntry(key, _listed_fingerprint(value, kind)), _Listed(value, kind, exc)
            return ListEntry(key, record.fingerprint, record), None
        return ListEntry(key, _listed_fingerprint(value, kind)), _Listed(value, kind)

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        with self._lock:
            listed = dict(self._listed)
        records: list[tuple[Record, str]] = []
        errors: list[tuple[str, SourceError]] = []
        debates: dict[str, list[ListEntry]] = {}
        for entry in entries:
            if entry.record is not None:
                records.append((entry.record, entry.fingerprint))
                continue
            item = listed.get(entry.key)
            if item is None:
                errors.append((entry.key, SourceError(f"contribution {entry.key}: not listed")))
            elif item.error is not None:
                errors.append((entry.key, item.error))
            else:
                ext_id = optional(item.value, "DebateSectionExtId", str) or ""
                debates.setdefault(ext_id, []).append(entry)
        for ext_id, wanted in debates.items():
            try:
                texts = self._debate_texts(ext_id)
            except SourceError as exc:
                errors.extend((e.key, exc) for e in wanted)
                continue
            for entry in wanted:
                item = listed[entry.key]
                try:
                    record = parse_contribution(
                        item.value, self.id, item.contribution_type, full_text=texts.get(entry.key)
                    )
                except ParseError as exc:
                    errors.append((entry.key, exc))
                    continue
                records.append((record, entry.fingerprint))
        for key, err in errors:
            logger.warning("event=fetch_failed source=%s key=%s error=%r", self.id, key, str(err))
        logger.info(
            "event=fetch_done source=%s records=%d errors=%d", self.id, len(records), len(errors)
        )
        return Fetched(records=tuple(records), errors=tuple(errors))

    def _debate_texts(self, ext_id: str) -> dict[str, str]:
        """The full text of every contribution in one debate, by its ExternalId."""
        if not ext_id:
            raise ParseError("field DebateSectionExtId: missing, so the full text is out of reach")
        path = DEBATE_PATH.format(ext_id=ext_id)
        body = self._client.get_json(path)
        try:
            return dict(debate_items(body))
        except ParseError as exc:
            raise ParseError(f"GET {path}: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _listed_fingerprint(value: Mapping[str, Any], kind: str) -> str:
    return fingerprint_of({"type": kind, **{k: v for k, v in value.items() if k not in VOLATILE}})


# --- parsing: pure -------------------------------------------------------------------------


def search_page(page: Any) -> tuple[int, Sequence[Mapping[str, Any]]]:
    """``(TotalResultCount, [SearchReferencesItem, ...])`` of one search response."""
    if not isinstance(page, dict):
        raise ParseError("search response: expected an object")
    try:
        total = check(page.get("TotalResultCount"), "TotalResultCount", int)
        results = check(page.get("Results") or [], "Results", list)
        for i, item in enumerate(results):
            check(item, f"Results[{i}]", dict)
    except ParseError as exc:
        raise ParseError(f"search response: {exc}") from None
    return total, results


def debate_items(body: Any) -> Iterator[tuple[str, str]]:
    """``(ExternalId, Value)`` of every item of a ``Debate``, its child debates' included."""
    if not isinstance(body, dict):
        raise ParseError("debate: expected an object")
    for i, item in enumerate(optional(body, "Items", list) or []):
        entry = check(item, f"Items[{i}]", dict)
        ext = optional(entry, "ExternalId", str)
        value = optional(entry, "Value", str)
        if ext and value:
            yield ext, value
    for child in optional(body, "ChildDebates", list) or []:
        yield from debate_items(child)


def contribution_key(value: Mapping[str, Any]) -> str:
    """``ContributionExtId``, or ``ItemId`` for a contribution without one."""
    ext = optional(value, "ContributionExtId", str)
    if ext and ext.strip():
        return ext.strip()
    item = optional(value, "ItemId", int)
    if item is None:
        raise ParseError("fields ContributionExtId and ItemId: both missing")
    return str(item)


def has_full_text(value: Mapping[str, Any]) -> bool:
    full = value.get("ContributionTextFull")
    return isinstance(full, str) and bool(full.strip())


def parse_contribution(
    value: Mapping[str, Any], source_id: str, contribution_type: str, full_text: str | None = None
) -> Record:
    """One ``SearchReferencesItem`` as a ``Record``. Its text is ``full_text`` when given
    (from the debate), else ``ContributionTextFull``, else the listed ``ContributionText``.

    Raises ``ParseError`` naming the field when a value is missing or of the wrong type.
    """
    if not isinstance(value, Mapping):
        raise ParseError("contribution: expected an object")
    key = contribution_key(value)
    try:
        return _parse(value, source_id, key, contribution_type, full_text)
    except ParseError as exc:
        raise ParseError(f"contribution {key}: {exc}") from exc


def _parse(
    v: Mapping[str, Any], source_id: str, key: str, kind: str, full_text: str | None
) -> Record:
    sitting = day(v, "SittingDate")
    house = optional(v, "House", str)
    section_ext = optional(v, "DebateSectionExtId", str)
    if sitting is None or not house or not section_ext:
        raise ParseError(
            "fields SittingDate, House and DebateSectionExtId: all are needed for the "
            "contribution's address"
        )
    ext = optional(v, "ContributionExtId", str)
    url = PUBLIC_URL.format(house=house, date=sitting.isoformat(), section=section_ext)
    if ext and ext.strip():
        url += f"#contribution-{ext.strip()}"
    listed = optional(v, "ContributionText", str)
    full = optional(v, "ContributionTextFull", str)
    raw = next((t for t in (full_text, full, listed) if t and t.strip()), None)
    words = _text(raw) if raw else None
    section = " ".join((optional(v, "DebateSection", str) or "").split())
    member = " ".join(
        (optional(v, "MemberName", str) or optional(v, "AttributedTo", str) or "").split()
    )
    member_id = optional(v, "MemberId", int)
    title = " — ".join(part for part in (section, member) if part) or f"Contribution {key}"
    return Record(
        source=source_id,
        key=key,
        kind=KIND,
        title=title,
        url=url,
        day=sitting,
        texts={"text": words} if words is not None else {},
        facets=facets(
            house=(house,),
            member=(member or None, member_id or None),
            section=(section or None, optional(v, "DebateSectionId", int)),
            category=(kind,),
        ),
    )


def _text(raw: str) -> Text | None:
    """The contribution's words: HTML as the debate gives it, or plain text with its
    paragraphs (a search result's text may carry no markup at all)."""
    found = text.from_html(raw) if "<" in raw else text.from_plain(raw)
    return found if found.plain else None


__all__ = [
    "KIND",
    "HansardContributions",
    "contribution_key",
    "debate_items",
    "parse_contribution",
    "search_page",
]
