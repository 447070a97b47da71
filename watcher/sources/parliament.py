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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from watcher import text
from watcher.config import ParliamentSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.kinds.questions import written_question
from watcher.model import GroupedQuestion, Record, Status, fingerprint_of
from watcher.sources.apijson import (
    attachments,
    check,
    day,
    flag,
    html_field,
    nested,
    optional,
    person,
    required,
)
from watcher.sources.base import Cursor, Fetched, ListEntry, Listing
from watcher.sources.common import api_client, fetch_each, list_values

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
        clock: Callable[[], datetime] | None = None,
        allow_private_networks: bool = True,  # its base URL is ours: never guarded
    ) -> None:
        self._config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = api_client(config, user_agent, transport)

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        answered: dict[str, date] = {}  # answers (not holding) in the listing, by key
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
                    self._page_through(params, entries, answered)
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
        new_cursor = self._recheck(entries, answered, cursor or {})
        return Listing(tuple(entries.values()), cursor=new_cursor)

    def _recheck(
        self, entries: dict[str, ListEntry], answered: Mapping[str, date], cursor: Cursor
    ) -> Cursor:
        """Read again the details of recent answers, once a day, and put them in ``entries``
        as re-checks; the cursor says when the source was first polled and last re-checked.

        The listing shows 255 characters of an answer and a correction flag, so an answer
        edited further on without the flag lists exactly as before: only its detail shows it.
        The first re-check waits 24 hours after the first poll, whose details are fresh."""
        now = self._clock()
        first = _when(cursor.get("first_poll")) or now
        last = _when(cursor.get("rechecked"))
        out = {**cursor, "first_poll": first.isoformat()}
        days = self._config.recheck_days
        due = (last or first) + RECHECK_EVERY <= now
        if not days or not due:
            return out
        oldest = now.date() - timedelta(days=days)
        recent = sorted(
            (k for k, day in answered.items() if day >= oldest),
            key=lambda k: (answered[k], k),
            reverse=True,
        )[: self._config.recheck_limit]
        fetched = self.fetch([entries[k] for k in recent])
        for record, listed in fetched.records:
            entries[record.key] = ListEntry(record.key, listed, record, recheck=True)
        logger.info(
            "event=recheck_done source=%s answers=%d errors=%d",
            self.id,
            len(fetched.records),
            len(fetched.errors),
        )
        if fetched.errors:
            return out  # tried again at the next poll: a missed edit is worth a few requests
        return {**out, "rechecked": now.isoformat()}

    def _page_through(
        self,
        params: dict[str, str],
        entries: dict[str, ListEntry],
        answered: dict[str, date],
    ) -> None:
        """Add every entry of one filtered listing to ``entries``, page by page, and the day
        of each full answer among them to ``answered``."""
        pages = list_values(self._client, LIST_PATH, params, self._config.page_size, self.id)
        for value in pages:
            key = _key(value)
            # An item can be listed by several windows; the latest listing wins.
            entries[key] = ListEntry(key=key, fingerprint=fingerprint_of(value))
            day = _answer_day(value)
            if day is not None:
                answered[key] = day

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        return fetch_each(self.id, entries, self._fetch_one, self._config.max_concurrency)

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


RECHECK_EVERY = timedelta(days=1)


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None  # a cursor this release did not write: start again


def _answer_day(value: Mapping[str, Any]) -> date | None:
    """The day a listed question was answered in full (not a holding answer), if it was."""
    raw = value.get("dateAnswered")
    if not isinstance(raw, str) or value.get("answerIsHolding") or value.get("isWithdrawn"):
        return None
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        return None


def _key(value: Mapping[str, Any]) -> str:
    return str(required(value, "id", int))


# --- parsing: pure -------------------------------------------------------------------------


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
    date_tabled = day(v, "dateTabled")
    uin = optional(v, "uin", str)
    if date_tabled is None or not uin:
        raise ParseError("fields dateTabled and uin: both are needed for the question's address")
    question_text = optional(v, "questionText", str)
    question = text.from_plain(question_text) if question_text else None
    question = question if question and question.plain else None
    answer = html_field(v, "answerText")
    date_answered = day(v, "dateAnswered")
    if flag(v, "isWithdrawn"):
        status = Status.WITHDRAWN
    elif flag(v, "answerIsHolding"):
        status = Status.HOLDING
    elif date_answered is not None and answer is not None:
        status = Status.ANSWERED
    else:
        status = Status.TABLED
    return written_question(
        source=source_id,
        key=key,
        kind=KIND,
        title=optional(v, "heading", str) or "",
        url=PUBLIC_URL.format(date=date_tabled.isoformat(), uin=uin),
        status=status,
        house=optional(v, "house", str),
        uin=uin,
        department=optional(v, "answeringBodyName", str),
        department_id=optional(v, "answeringBodyId", int),
        asked_by=person(v, "askingMember", "askingMemberId"),
        answered_by=person(v, "answeringMember", "answeringMemberId"),
        corrected_by=person(v, "correctingMember", "correctingMemberId"),
        question=question,
        answer=answer,
        original_answer=html_field(v, "originalAnswerText"),
        date_tabled=date_tabled,
        date_for_answer=day(v, "dateForAnswer"),
        date_answered=date_answered,
        date_holding=day(v, "dateHoldingAnswer"),
        date_corrected=day(v, "dateAnswerCorrected"),
        is_correction=flag(v, "answerIsCorrection"),
        named_day=flag(v, "isNamedDay"),
        member_has_interest=flag(v, "memberHasInterest"),
        grouped=_grouped(v),
        attachments=attachments(v),
    )


def _grouped(v: Mapping[str, Any]) -> tuple[GroupedQuestion, ...]:
    dated = optional(v, "groupedQuestionsDates", list)
    if dated:
        out = []
        for i, item in enumerate(dated):
            where = f"groupedQuestionsDates[{i}]"
            entry = check(item, where, dict)
            try:
                out.append(
                    GroupedQuestion(
                        uin=required(entry, "questionUin", str),
                        date_tabled=day(entry, "dateTabled"),
                    )
                )
            except ParseError as exc:
                raise nested(where, exc) from None
        return tuple(out)
    uins = optional(v, "groupedQuestions", list) or []
    return tuple(
        GroupedQuestion(uin=check(u, f"groupedQuestions[{i}]", str), date_tabled=None)
        for i, u in enumerate(uins)
    )
