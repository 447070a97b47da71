"""UK Parliament written ministerial statements as a ``Source``.

``list`` pages through ``GET /api/writtenstatements/statements`` for the days made
(``madeWhenFrom``/``madeWhenTo``) and each configured House, and fingerprints every entry as
listed. The list truncates a statement's text like the questions list truncates answers, so
``fetch`` asks ``GET /api/writtenstatements/statements/{id}`` for the full text and attachments,
and ``parse_statement`` turns it into a ``Record``. ``parse_statement`` is pure; everything that
touches the network goes through ``PoliteClient``.

Linked statements (a later statement correcting this one, a joint statement) are left out: the
link is from the newer statement, which is itself listed, and a correction's text is what a
reader needs, not the id of what it corrects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from watcher.config import StatementsSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.kinds.base import facets
from watcher.model import Record, fingerprint_of
from watcher.sources.apijson import (
    attachments,
    day,
    html_field,
    list_page,
    optional,
    person,
    required,
)
from watcher.sources.base import Cursor, Fetched, ListEntry, Listing
from watcher.sources.common import api_client, fetch_each, list_values

logger = logging.getLogger(__name__)

KIND = "written_statement"
LIST_PATH = "/api/writtenstatements/statements"
PUBLIC_URL = "https://questions-statements.parliament.uk/written-statements/detail/{date}/{uin}"


class ParliamentWrittenStatements:
    """Written statements from both Houses. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: StatementsSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,  # no use for one: its listing is dated
        allow_private_networks: bool = True,  # its base URL is ours: never guarded
    ) -> None:
        self._config = config
        self._client = api_client(config, user_agent, transport)

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        for house in self._config.houses:
            params = {
                "madeWhenFrom": since.isoformat(),
                "madeWhenTo": until.isoformat(),
                "house": house,
                "expandMember": "true",
            }
            try:
                self._page_through(params, entries)
            except SourceError as exc:
                logger.warning(
                    "event=list_failed source=%s house=%s entries=%d error=%r",
                    self.id,
                    house,
                    len(entries),
                    str(exc),
                )
                return Listing(tuple(entries.values()), error=exc)
        logger.info(
            "event=list_done source=%s since=%s until=%s entries=%d",
            self.id,
            since,
            until,
            len(entries),
        )
        return Listing(tuple(entries.values()))

    def _page_through(self, params: dict[str, str], entries: dict[str, ListEntry]) -> None:
        """Add every entry of one House's listing to ``entries``, page by page."""
        pages = list_values(self._client, LIST_PATH, params, self._config.page_size, self.id)
        for value in pages:
            key = _key(value)
            entries[key] = ListEntry(key=key, fingerprint=fingerprint_of(value))

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        return fetch_each(self.id, entries, self._fetch_one, self._config.max_concurrency)

    def _fetch_one(self, key: str) -> Record:
        path = f"{LIST_PATH}/{key}"
        body = self._client.get_json(path, {"expandMember": "true"})
        record = parse_statement(detail_value(body, path), self.id)
        if record.key != key:
            raise ParseError(f"GET {path}: answered with statement {record.key}")
        return record

    def close(self) -> None:
        self._client.close()


def detail_value(body: Any, path: str) -> Mapping[str, Any]:
    """The statement in a detail response. The spec gives ``/statements/{id}`` the list's
    envelope (``{totalResults, results: [{value}]}``) where ``/statements/{date}/{uin}`` has
    ``{value}``; either is read, so a service that answers with the other still works."""
    if isinstance(body, dict) and isinstance(body.get("value"), dict):
        value: Mapping[str, Any] = body["value"]
        return value
    if isinstance(body, dict) and "results" in body:
        _, values = list_page({"totalResults": 0, **body})
        if len(values) != 1:
            raise ParseError(f"GET {path}: expected one statement, got {len(values)}")
        return values[0]
    raise ParseError(f"GET {path}: expected an object with a 'value' or 'results'")


def _key(value: Mapping[str, Any]) -> str:
    return str(required(value, "id", int))


# --- parsing: pure -------------------------------------------------------------------------


def parse_statement(value: Mapping[str, Any], source_id: str) -> Record:
    """One detail ``value`` of the written statements API as a ``Record``.

    Raises ``ParseError`` naming the field when a value is missing or of the wrong type.
    """
    if not isinstance(value, Mapping):
        raise ParseError("statement: expected an object")
    key = _key(value)
    try:
        return _parse(value, source_id, key)
    except ParseError as exc:
        raise ParseError(f"statement {key}: {exc}") from exc


def _parse(v: Mapping[str, Any], source_id: str, key: str) -> Record:
    made = day(v, "dateMade")
    uin = optional(v, "uin", str)
    if made is None or not uin:
        raise ParseError("fields dateMade and uin: both are needed for the statement's address")
    statement = html_field(v, "text")
    member = person(v, "member", "memberId")
    department_id = optional(v, "answeringBodyId", int)
    return Record(
        source=source_id,
        key=key,
        kind=KIND,
        title=" ".join((optional(v, "title", str) or "").split()),
        url=PUBLIC_URL.format(date=made.isoformat(), uin=uin),
        day=made,
        texts={"text": statement} if statement is not None else {},
        facets=facets(
            house=(optional(v, "house", str),),
            department=(optional(v, "answeringBodyName", str), department_id),
            member=(member.name, member.id) if member else (),
            party=(member.party if member else None,),
            uin=(uin,),
        ),
        attachments=attachments(v),
        body=None,
    )


__all__ = ["KIND", "ParliamentWrittenStatements", "detail_value", "parse_statement"]
