"""The UK Parliament Written Questions API as a ``Source``.

``list`` pages through ``GET /api/writtenquestions/questions`` for each configured date window
(answered, corrected, tabled) and each House, and fingerprints every entry as listed. The list
endpoint truncates question and answer text, so ``fetch`` asks
``GET /api/writtenquestions/questions/{id}`` for the full item and ``parse_question`` turns it into
a ``Record``. ``parse_question`` is pure; everything that touches the network goes through
``PoliteClient``. What changed and who cares is left to ``diff`` and ``match``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any, TypeVar

import httpx

from watcher import text
from watcher.config import ParliamentSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.http import PoliteClient
from watcher.kinds.questions import written_question
from watcher.model import (
    Attachment,
    GroupedQuestion,
    Person,
    Record,
    Status,
    Text,
    fingerprint_of,
)
from watcher.sources.base import Cursor, Fetched, ListEntry, Listing

logger = logging.getLogger(__name__)

KIND = "written_question"
LIST_PATH = "/api/writtenquestions/questions"
PUBLIC_URL = "https://questions-statements.parliament.uk/written-questions/detail/{date}/{uin}"
# Which list filters select each configured window.
WINDOW_PARAMS = {
    "answered": ("answeredWhenFrom", "answeredWhenTo"),
    "corrected": ("correctedWhenFrom", "correctedWhenTo"),
    "tabled": ("tabledWhenFrom", "tabledWhenTo"),
}


class ParliamentWrittenQuestions:
    """Written questions and answers from both Houses. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: ParliamentSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = config
        self._client = PoliteClient(
            base_url=config.base_url,
            user_agent=user_agent,
            timeout=config.timeout.total_seconds(),
            max_concurrency=config.max_concurrency,
            max_per_second=config.max_per_second,
            retries=config.retries,
            backoff=config.backoff.total_seconds(),
            max_retry_after=config.max_retry_after.total_seconds(),
            transport=transport,
        )

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        for window in self._config.windows:
            low, high = WINDOW_PARAMS[window]
            for house in self._config.houses:
                params = {
                    low: since.isoformat(),
                    high: until.isoformat(),
                    "house": house,
                    "expandMember": "true",
                    "includeWithdrawn": "true",
                }
                try:
                    self._page_through(params, entries)
                except SourceError as exc:
                    logger.warning(
                        "event=list_failed source=%s window=%s house=%s entries=%d error=%r",
                        self.id,
                        window,
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
        """Add every entry of one filtered listing to ``entries``, page by page."""
        skip = 0
        while True:
            page = self._client.get_json(
                LIST_PATH, {**params, "skip": skip, "take": self._config.page_size}
            )
            total, values = _list_page(page)
            for value in values:
                key = _key(value)
                # An item can be listed by several windows; the latest listing wins.
                entries[key] = ListEntry(key=key, fingerprint=fingerprint_of(value))
            skip += len(values)
            if skip >= total:
                return
            if not values:
                # Never trust totalResults enough to loop on it: a server that runs dry early
                # ends this listing, and the next poll will look again.
                logger.warning(
                    "event=list_short source=%s total=%d got=%d params=%s",
                    self.id,
                    total,
                    skip,
                    _describe(params),
                )
                return

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        def one(entry: ListEntry) -> Record | SourceError:
            try:
                return self._fetch_one(entry.key)
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(
            max_workers=self._config.max_concurrency, thread_name_prefix=f"fetch-{self.id}"
        ) as pool:
            results = pool.map(one, entries)
            records: list[tuple[Record, str]] = []
            errors: list[tuple[str, SourceError]] = []
            for entry, result in zip(entries, results, strict=True):
                if isinstance(result, SourceError):
                    logger.warning(
                        "event=fetch_failed source=%s key=%s error=%r",
                        self.id,
                        entry.key,
                        str(result),
                    )
                    errors.append((entry.key, result))
                else:
                    records.append((result, entry.fingerprint))
        logger.info(
            "event=fetch_done source=%s records=%d errors=%d", self.id, len(records), len(errors)
        )
        return Fetched(records=tuple(records), errors=tuple(errors))

    def _fetch_one(self, key: str) -> Record:
        path = f"{LIST_PATH}/{key}"
        body = self._client.get_json(path, {"expandMember": "true"})
        if not isinstance(body, dict) or not isinstance(body.get("value"), dict):
            raise ParseError(f"GET {path}: expected an object with a 'value' object")
        record = parse_question(body["value"], self.id)
        if record.key != key:
            raise ParseError(f"GET {path}: answered with question {record.key}")
        return record

    def close(self) -> None:
        self._client.close()


def _describe(params: Mapping[str, object]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def _list_page(page: Any) -> tuple[int, Sequence[Mapping[str, Any]]]:
    """``(totalResults, [value, ...])`` of one list response, or ``ParseError``."""
    if not isinstance(page, dict):
        raise ParseError("list response: expected an object")
    total = page.get("totalResults")
    results = page.get("results")
    if not isinstance(total, int) or isinstance(total, bool):
        raise ParseError("list response: field totalResults: expected an integer")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise ParseError("list response: field results: expected a list")
    values = []
    for i, item in enumerate(results):
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise ParseError(f"list response: field results[{i}].value: expected an object")
        values.append(item["value"])
    return total, values


def _key(value: Mapping[str, Any]) -> str:
    return str(_required(value, "id", int))


# --- parsing: pure -------------------------------------------------------------------------

T = TypeVar("T")


def parse_question(value: Mapping[str, Any], source_id: str) -> Record:
    """One detail ``value`` of the Written Questions API as a ``Record``.

    Raises ``ParseError`` naming the field when a value is missing or of the wrong type.
    """
    if not isinstance(value, Mapping):
        raise ParseError("question: expected an object")
    key = _key(value)
    try:
        return _parse(value, source_id, key)
    except ParseError as exc:
        raise ParseError(f"question {key}: {exc}") from exc


def _parse(v: Mapping[str, Any], source_id: str, key: str) -> Record:
    date_tabled = _date(v, "dateTabled")
    uin = _optional(v, "uin", str)
    if date_tabled is None or not uin:
        raise ParseError("fields dateTabled and uin: both are needed for the question's address")
    question_text = _optional(v, "questionText", str)
    question = _text(text.text_to_html(question_text)) if question_text else None
    answer = _html_text(v, "answerText")
    date_answered = _date(v, "dateAnswered")
    if _flag(v, "isWithdrawn"):
        status = Status.WITHDRAWN
    elif _flag(v, "answerIsHolding"):
        status = Status.HOLDING
    elif date_answered is not None and answer is not None:
        status = Status.ANSWERED
    else:
        status = Status.TABLED
    return written_question(
        source=source_id,
        key=key,
        kind=KIND,
        title=_optional(v, "heading", str) or "",
        url=PUBLIC_URL.format(date=date_tabled.isoformat(), uin=uin),
        status=status,
        house=_optional(v, "house", str),
        uin=uin,
        department=_optional(v, "answeringBodyName", str),
        department_id=_optional(v, "answeringBodyId", int),
        asked_by=_person(v, "askingMember", "askingMemberId"),
        answered_by=_person(v, "answeringMember", "answeringMemberId"),
        corrected_by=_person(v, "correctingMember", "correctingMemberId"),
        question=question,
        answer=answer,
        original_answer=_html_text(v, "originalAnswerText"),
        date_tabled=date_tabled,
        date_for_answer=_date(v, "dateForAnswer"),
        date_answered=date_answered,
        date_holding=_date(v, "dateHoldingAnswer"),
        date_corrected=_date(v, "dateAnswerCorrected"),
        is_correction=_flag(v, "answerIsCorrection"),
        named_day=_flag(v, "isNamedDay"),
        member_has_interest=_flag(v, "memberHasInterest"),
        grouped=_grouped(v),
        attachments=_attachments(v),
    )


def _type_name(kind: type[Any]) -> str:
    return {
        int: "an integer",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "an object",
    }.get(kind, kind.__name__)


def _check(value: Any, name: str, kind: type[T]) -> T:
    # bool is an int in Python but never an integer in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ParseError(f"field {name}: expected {_type_name(kind)}, got {value!r:.40}")
    return value


def _optional(v: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    value = v.get(name)
    return None if value is None else _check(value, name, kind)


def _required(v: Mapping[str, Any], name: str, kind: type[T]) -> T:
    if v.get(name) is None:
        raise ParseError(f"field {name}: missing")
    return _check(v[name], name, kind)


def _flag(v: Mapping[str, Any], name: str) -> bool:
    return bool(_optional(v, name, bool))


def _date(v: Mapping[str, Any], name: str) -> date | None:
    raw = _optional(v, name, str)
    if not raw:
        return None
    try:
        # The API writes calendar dates as midnight without a zone: the date is what counts.
        return datetime.fromisoformat(raw).date()
    except ValueError:
        raise ParseError(f"field {name}: {raw!r:.40} is not a date") from None


def _text(html: str) -> Text | None:
    safe = text.sanitise_html(html)
    plain = text.html_to_text(safe)
    return Text(html=safe, plain=plain) if plain else None


def _html_text(v: Mapping[str, Any], name: str) -> Text | None:
    raw = _optional(v, name, str)
    return _text(raw) if raw and raw.strip() else None


def _person(v: Mapping[str, Any], member_field: str, id_field: str) -> Person | None:
    member_id = _optional(v, id_field, int)
    member = _optional(v, member_field, dict)
    if member is None:
        return None if member_id is None else Person(id=member_id, name=f"Member {member_id}")

    try:
        pid = _optional(member, "id", int) or member_id
        name = _optional(member, "name", str) or _optional(member, "listAs", str) or f"Member {pid}"
        return Person(
            id=pid,
            name=name,
            party=_optional(member, "party", str) or None,
            constituency=_optional(member, "memberFrom", str) or None,
        )
    except ParseError as exc:
        raise _nested(member_field, exc) from None


def _grouped(v: Mapping[str, Any]) -> tuple[GroupedQuestion, ...]:
    dated = _optional(v, "groupedQuestionsDates", list)
    if dated:
        out = []
        for i, item in enumerate(dated):
            where = f"groupedQuestionsDates[{i}]"
            entry = _check(item, where, dict)
            try:
                out.append(
                    GroupedQuestion(
                        uin=_required(entry, "questionUin", str),
                        date_tabled=_date(entry, "dateTabled"),
                    )
                )
            except ParseError as exc:
                raise _nested(where, exc) from None
        return tuple(out)
    uins = _optional(v, "groupedQuestions", list) or []
    return tuple(
        GroupedQuestion(uin=_check(u, f"groupedQuestions[{i}]", str), date_tabled=None)
        for i, u in enumerate(uins)
    )


def _attachments(v: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out = []
    for i, item in enumerate(_optional(v, "attachments", list) or []):
        where = f"attachments[{i}]"
        entry = _check(item, where, dict)
        try:
            url = _required(entry, "url", str)
            attachment = Attachment(
                url=url,
                title=_optional(entry, "title", str) or url.rsplit("/", 1)[-1],
                file_type=_optional(entry, "fileType", str),
                size_bytes=_optional(entry, "fileSizeBytes", int),
            )
        except ParseError as exc:
            raise _nested(where, exc) from None
        # Links go into emails; anything but a web address (javascript:, data:) is dropped.
        if url.lower().startswith(("https://", "http://")):
            out.append(attachment)
    return tuple(out)


def _nested(prefix: str, exc: ParseError) -> ParseError:
    return ParseError(f"field {prefix}.{str(exc).removeprefix('field ')}")
