"""Committee publications (reports, government responses, correspondence ...) as a ``Source``,
from the Committees API.

``list`` pages through ``GET /api/Publications`` for the publication days of the window
(``StartDate``/``EndDate``, ``Skip``/``Take``, until ``totalResults``), once per configured
committee (``CommitteeId`` takes one id) or once for all, with ``PublicationTypeIds``
repeated for each configured type, as the spec's array parameter is sent. The listing carries
everything the API has on a publication, so each entry carries its whole record and nothing
is fetched. Publications of committees outside the configured Houses are left out here.

Links. The API gives no page address for a publication, and ``files[].url`` is null in every
recorded response; its documents are public at
``https://committees.parliament.uk/publications/{id}/documents/{documentId}/default/``, which
opens the HTML version where there is one and the PDF otherwise (the bare
``/publications/{id}/`` answers 404). So a record links to its first document there, else to
its ``additionalContentUrl`` (a report's HTML on publications.parliament.uk), else to the
committee's publications page. Every document is an attachment: its file's own URL when the
API gives a web address, else its document address.

``parse_publication`` is pure; everything that touches the network goes through
``PoliteClient``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from watcher import text
from watcher.config import CommitteePublicationsSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.kinds.base import facets
from watcher.model import Attachment, Record, Text, fingerprint_of
from watcher.sources.apijson import check, day, nested, optional, required
from watcher.sources.base import Cursor, Fetched, ListEntry, Listing
from watcher.sources.common import api_client

logger = logging.getLogger(__name__)

KIND = "committee_publication"
LIST_PATH = "/api/Publications"
SITE = "https://committees.parliament.uk"
DOCUMENT_URL = SITE + "/publications/{id}/documents/{document}/default/"
COMMITTEE_URL = SITE + "/committee/{id}/publications/"


class CommitteePublications:
    """Publications of Parliament's committees. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: CommitteePublicationsSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,  # no use for one: its listing is dated
        allow_private_networks: bool = True,  # its base URL is ours: never guarded
    ) -> None:
        self._config = config
        self._client = api_client(config, user_agent, transport)
        self._lock = threading.Lock()
        self._unreadable: dict[str, ParseError] = {}  # the last listing's, by key

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        with self._lock:
            self._unreadable = {}
        skipped = 0
        for committee in self._config.committees or (None,):
            params: dict[str, str | int] = {
                "StartDate": since.isoformat(),
                # Inclusive of the whole last day: publications carry a time of day.
                "EndDate": f"{until.isoformat()}T23:59:59",
                "SortOrder": "PublicationDateAscending",
            }
            if committee is not None:
                params["CommitteeId"] = committee
            try:
                skipped += self._page_through(params, entries)
            except SourceError as exc:
                logger.warning(
                    "event=list_failed source=%s committee=%s entries=%d error=%r",
                    self.id,
                    committee,
                    len(entries),
                    str(exc),
                )
                return Listing(tuple(entries.values()), error=exc)
        logger.info(
            "event=list_done source=%s since=%s until=%s entries=%d other_houses=%d",
            self.id,
            since,
            until,
            len(entries),
            skipped,
        )
        return Listing(tuple(entries.values()))

    def _page_through(self, params: dict[str, str | int], entries: dict[str, ListEntry]) -> int:
        """Add every publication of one listing to ``entries``, page by page; the number
        left out as another House's."""
        # An array parameter is the name repeated, which a mapping of params cannot say.
        types = urlencode([("PublicationTypeIds", t) for t in self._config.publication_types])
        path = f"{LIST_PATH}?{types}" if types else LIST_PATH
        houses = set(self._config.houses)
        skip = skipped = 0
        while True:
            page = self._client.get_json(
                path, {**params, "Skip": skip, "Take": self._config.page_size}
            )
            total, items = publications_page(page)
            for item in items:
                key = str(required(item, "id", int))
                try:
                    record = parse_publication(item, self.id)
                except ParseError as exc:
                    # Reported by fetch as this item's error: the rest of the page is kept.
                    with self._lock:
                        self._unreadable[key] = exc
                    entries[key] = ListEntry(key, fingerprint_of(item))
                    continue
                house = record.facet("house")
                if house is not None and house not in houses:
                    skipped += 1
                    continue
                entries[key] = ListEntry(key, record.fingerprint, record)
            skip += len(items)
            if skip >= total:
                return skipped
            if not items:
                logger.warning(
                    "event=list_short source=%s total=%d got=%d committee=%s",
                    self.id,
                    total,
                    skip,
                    params.get("CommitteeId"),
                )
                return skipped

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        """Nothing to fetch: a readable publication is listed whole. What the pipeline asks
        for are the unreadable ones, each reported with what was wrong with it."""
        with self._lock:
            unreadable = dict(self._unreadable)
        records = tuple((e.record, e.fingerprint) for e in entries if e.record is not None)
        errors: list[tuple[str, SourceError]] = []
        for e in entries:
            if e.record is None:
                error = unreadable.get(e.key) or SourceError(f"publication {e.key}: not listed")
                logger.warning(
                    "event=fetch_failed source=%s key=%s error=%r", self.id, e.key, str(error)
                )
                errors.append((e.key, error))
        return Fetched(records=records, errors=tuple(errors))

    def close(self) -> None:
        self._client.close()


# --- parsing: pure -------------------------------------------------------------------------


def publications_page(page: Any) -> tuple[int, Sequence[Mapping[str, Any]]]:
    """``(totalResults, [publication, ...])`` of one ``/api/Publications`` response."""
    if not isinstance(page, dict):
        raise ParseError("publications response: expected an object")
    try:
        total = check(page.get("totalResults"), "totalResults", int)
        items = check(page.get("items") or [], "items", list)
        for i, item in enumerate(items):
            check(item, f"items[{i}]", dict)
    except ParseError as exc:
        raise ParseError(f"publications response: {exc}") from None
    return total, items


def parse_publication(value: Mapping[str, Any], source_id: str) -> Record:
    """One publication of the Committees API as a ``Record``.

    Raises ``ParseError`` naming the field when a value is missing or of the wrong type.
    """
    if not isinstance(value, Mapping):
        raise ParseError("publication: expected an object")
    key = str(required(value, "id", int))
    try:
        return _parse(value, source_id, key)
    except ParseError as exc:
        raise ParseError(f"publication {key}: {exc}") from exc


def _parse(v: Mapping[str, Any], source_id: str, key: str) -> Record:
    published = day(v, "publicationStartDate")
    if published is None:
        raise ParseError("field publicationStartDate: missing")
    description = " ".join((optional(v, "description", str) or "").split())
    committee = _part(v, "committee")
    kind = _part(v, "type")
    department = _part(v, "respondingDepartment")
    committee_id = optional(committee, "id", int) if committee else None
    documents = _documents(v, key)
    extra = optional(v, "additionalContentUrl", str)
    url = (
        documents[0].url
        if documents
        else extra
        if _web(extra)
        else COMMITTEE_URL.format(id=committee_id)
        if committee_id
        else SITE + "/publications/"
    )
    text = _text(v, description)
    return Record(
        source=source_id,
        key=key,
        kind=KIND,
        title=description or f"Committee publication {key}",
        url=url or "",
        day=published,
        texts={"text": text} if text is not None else {},
        facets=facets(
            committee=(_name(committee, "committee"), committee_id),
            category=(_name(kind, "type"), optional(kind, "id", int) if kind else None),
            department=(
                _name(department, "respondingDepartment"),
                optional(department, "id", int) if department else None,
            ),
            house=(_house(committee),),
        ),
        attachments=documents,
    )


def _part(v: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return optional(v, name, dict)


def _name(part: Mapping[str, Any] | None, where: str) -> str | None:
    if part is None:
        return None
    try:
        return optional(part, "name", str)
    except ParseError as exc:
        raise nested(where, exc) from None


def _house(committee: Mapping[str, Any] | None) -> str | None:
    if committee is None:
        return None
    try:
        return optional(committee, "house", str)
    except ParseError as exc:
        raise nested("committee", exc) from None


def _text(v: Mapping[str, Any], description: str) -> Text | None:
    """What a rule searches besides the title: the description, the inquiries it belongs to
    and its paper number, as short paragraphs (the API has no text of the document)."""
    lines = [description] if description else []
    for i, business in enumerate(optional(v, "businesses", list) or []):
        entry = check(business, f"businesses[{i}]", dict)
        try:
            title = optional(entry, "title", str)
        except ParseError as exc:
            raise nested(f"businesses[{i}]", exc) from None
        if title and title.strip():
            lines.append(f"Inquiry: {' '.join(title.split())}")
    for name in ("hcNumber", "hlPaper"):
        paper = optional(v, name, dict)
        number = optional(paper, "number", str) if paper else None
        if number and number.strip():
            lines.append(f"Paper: {number.strip()}")
    found = text.from_plain("\n\n".join(lines)) if lines else None
    return found if found and found.plain else None


def _documents(v: Mapping[str, Any], key: str) -> tuple[Attachment, ...]:
    out: dict[str, Attachment] = {}
    for i, doc in enumerate(optional(v, "documents", list) or []):
        where = f"documents[{i}]"
        entry = check(doc, where, dict)
        try:
            document_id = optional(entry, "documentId", int)
            files = optional(entry, "files", list) or []
            for j, raw in enumerate(files):
                file = check(raw, f"files[{j}]", dict)
                try:
                    name = optional(file, "fileName", str)
                    own = optional(file, "url", str)
                    size = optional(file, "fileSize", int)
                except ParseError as exc:
                    raise nested(f"files[{j}]", exc) from None
                # Links go into emails: a web address, or none (javascript:, data: dropped).
                if own is not None and not _web(own):
                    continue
                url = own or (
                    DOCUMENT_URL.format(id=key, document=document_id) if document_id else None
                )
                if url and url not in out:
                    suffix = name.rsplit(".", 1)[-1].lower() if name and "." in name else None
                    out[url] = Attachment(
                        url=url, title=name or url, file_type=suffix, size_bytes=size
                    )
        except ParseError as exc:
            raise nested(where, exc) from None
    return tuple(out.values())


def _web(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("https://", "http://"))


__all__ = ["KIND", "CommitteePublications", "parse_publication", "publications_page"]
