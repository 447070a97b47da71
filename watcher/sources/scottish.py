"""Scottish Parliament written questions and answers as a ``Source``.

The Parliament publishes every question of a year as one JSON array
(``GET /api/motionsquestionsanswersquestions?year=YYYY``), with no date filter and no paging,
and each item whole: the question, and its answer once given. So ``list`` does all the work and
``fetch`` has nothing to fetch:

    years      every year the window touches; and, when the window starts within
               ``previous_year_days`` of 1 January, the year before (December's questions
               are answered in January, and stay in their lodging year's file)
    each year  a conditional GET with the validators the cursor kept for that year: an
               unchanged file costs a 304 and lists nothing; a changed one is read whole
               within ``max_bytes`` and ``deadline`` (``PoliteClient``)
    keep       written questions only (``S6W-12345``: the ``W``), lodged or answered within
               the window, each parsed into a ``scottish_parliament_question`` record and
               listed with it; its listed fingerprint is the record's own, which covers the
               answer's date and text, so a re-read file makes events only for new answers
               and changed ones (``diff`` and the kind decide which)

Memory: a year's file is decoded whole (``json.loads``), bounded by ``max_bytes``; expect a few
times the file's size in Python objects while one year is parsed, and only the window's
records kept after. A streaming parser would need a new dependency; at tens of MB it is not
worth one yet.

A question that cannot be read is left out and reported as the listing's error, with the
others kept; the cursor is then not moved, so the next poll reads the file again.
Field names and meanings come from others' descriptions of the data (see
``watcher/testing/data/scottish/README.md``): check them against the real service.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from watcher.config import ScottishQuestionsSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.http import PoliteClient, Validators
from watcher.kinds.devolved import SCOTTISH_HOUSE, SCOTTISH_PARLIAMENT_QUESTIONS
from watcher.kinds.questions import written_question
from watcher.logs import q
from watcher.model import ListEntry, Person, Record, Status
from watcher.sources.apijson import day
from watcher.sources.base import Cursor, Fetched, Listing
from watcher.sources.devolved import (
    ident,
    plain_field,
    string,
    title_from,
    truthy,
    unreadable,
)

logger = logging.getLogger(__name__)

KIND = SCOTTISH_PARLIAMENT_QUESTIONS.name
LIST_PATH = "/api/motionsquestionsanswersquestions"
PUBLIC_URL = (
    "https://www.parliament.scot/chamber-and-committees/questions-and-answers/question?ref={ref}"
)
WRITTEN = re.compile(r"^S\d+W-\d+$", re.IGNORECASE)
_DATES = ("AnswerDate", "SubmissionDateTime", "ApprovedDate")


class ScottishParliamentQuestions:
    """One Scottish Parliament data service. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: ScottishQuestionsSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,  # no use for one: its listing is dated
        allow_private_networks: bool = True,  # its base URL is ours: never guarded
    ) -> None:
        self._config = config
        self._client = PoliteClient(
            base_url=config.base_url,
            user_agent=user_agent,
            timeout=config.timeout.total_seconds(),
            max_concurrency=1,
            max_per_second=1.0,  # one or two files a poll: the schedule is the politeness
            retries=config.retries,
            backoff=config.backoff.total_seconds(),
            max_retry_after=config.max_retry_after.total_seconds(),
            max_bytes=config.max_bytes,
            deadline=config.deadline.total_seconds(),
            transport=transport,
        )

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        entries: dict[str, ListEntry] = {}
        kept: dict[str, str] = {}
        problems: list[str] = []
        for year in years_to_read(since, until, self._config.previous_year_days):
            try:
                response = self._client.get(
                    LIST_PATH,
                    {"year": year},
                    headers={"Accept": "application/json"},
                    validators=_validators(cursor, year),
                )
                if not response.not_modified:
                    found, unread = parse_year(response.json(), self.id, since, until)
                    entries.update((r.key, ListEntry(r.key, r.fingerprint, r)) for r in found)
                    problems += unread
            except SourceError as exc:
                logger.warning(
                    "event=list_failed source=%s year=%d entries=%d error=%s",
                    self.id,
                    year,
                    len(entries),
                    q(exc),
                )
                return Listing(tuple(entries.values()), error=exc)
            logger.info(
                "event=list_year source=%s year=%d status=%d entries=%d",
                self.id,
                year,
                response.status,
                len(entries),
            )
            kept |= _cursor_for(year, response.validators)
        if problems:
            error = ParseError(unreadable(problems))
            logger.warning("event=list_partial source=%s error=%s", self.id, q(error))
            # The cursor stays where it was: the next poll reads the file again.
            return Listing(tuple(entries.values()), error=error)
        return Listing(tuple(entries.values()), cursor=kept)

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        """Nothing to fetch: the year's file carried every question whole."""
        return Fetched(tuple((e.record, e.fingerprint) for e in entries if e.record is not None))

    def close(self) -> None:
        self._client.close()


def years_to_read(since: date, until: date, previous_year_days: int) -> list[int]:
    """The years whose files hold the window's questions, oldest first (a later year's copy
    of a question wins)."""
    start = min(since, until)
    years = set(range(start.year, until.year + 1))
    # Early in the window's first year, the year before still has questions being answered.
    if (start - date(start.year, 1, 1)).days < previous_year_days:
        years.add(start.year - 1)
    return sorted(years)


def _validators(cursor: Cursor | None, year: int) -> Validators | None:
    if not cursor:
        return None
    etag, modified = cursor.get(f"{year}.etag"), cursor.get(f"{year}.last_modified")
    return Validators(etag, modified) if etag or modified else None


def _cursor_for(year: int, validators: Validators) -> dict[str, str]:
    out: dict[str, str] = {}
    if validators.etag:
        out[f"{year}.etag"] = validators.etag
    if validators.last_modified:
        out[f"{year}.last_modified"] = validators.last_modified
    return out


# --- parsing: pure -------------------------------------------------------------------------


def parse_year(
    body: Any, source_id: str, since: date | None = None, until: date | None = None
) -> tuple[list[Record], list[str]]:
    """The written questions of one year's file lodged or answered between ``since`` and
    ``until`` (inclusive; every one when both are None), and a line per unreadable question.

    Raises ``ParseError`` when the file is not a JSON array."""
    if not isinstance(body, list):
        raise ParseError(f"{LIST_PATH}: expected a JSON array of questions")
    records: list[Record] = []
    problems: list[str] = []
    for i, value in enumerate(body):
        if not isinstance(value, dict):
            problems.append(f"item {i}: expected an object")
            continue
        ref = value.get("EventID")
        if not isinstance(ref, str) or not WRITTEN.match(ref.strip()):
            continue  # oral, topical and First Minister's questions share the file
        try:
            if since is not None and until is not None and not _touched(value, since, until):
                continue
        except ParseError as exc:
            problems.append(f"question {ref.strip().upper()}: {exc}")
            continue
        try:
            records.append(parse_question(value, source_id))
        except ParseError as exc:
            problems.append(str(exc))
    return records, problems


def _touched(v: Mapping[str, Any], since: date, until: date) -> bool:
    return any(d is not None and since <= d <= until for d in (day(v, n) for n in _DATES))


def parse_question(value: Mapping[str, Any], source_id: str) -> Record:
    """One item of a year's file as a ``scottish_parliament_question`` record.

    Raises ``ParseError`` naming the question and the field."""
    raw = value.get("EventID")
    if not isinstance(raw, str) or not raw.strip():
        raise ParseError("question: field EventID: missing")
    ref = raw.strip().upper()
    try:
        return _parse(value, source_id, ref)
    except ParseError as exc:
        raise ParseError(f"question {ref}: {exc}") from exc


def _parse(v: Mapping[str, Any], source_id: str, ref: str) -> Record:
    question = plain_field(v, "ItemText")
    answer = plain_field(v, "AnswerText")
    answered = day(v, "AnswerDate")
    status = Status.ANSWERED if answered is not None and answer is not None else Status.TABLED
    member = ident(v, "MSPID")
    title = string(v, "Title") or title_from(question.plain if question else ref)
    return written_question(
        source=source_id,
        key=ref,
        kind=KIND,
        title=" ".join(title.split()),
        url=PUBLIC_URL.format(ref=ref),
        status=status,
        question=question,
        answer=answer if status is Status.ANSWERED else None,
        house=SCOTTISH_HOUSE,
        uin=ref,
        department=string(v, "OnBehalfOf"),
        asked_by=(
            Person(id=member, name=f"MSP {member}", party=string(v, "Party"))
            if member is not None
            else None
        ),
        answered_by=_answerer(v) if status is Status.ANSWERED else None,
        date_tabled=day(v, "SubmissionDateTime") or day(v, "ApprovedDate"),
        date_for_answer=day(v, "ExpectedAnswerDate"),
        date_answered=answered if status is Status.ANSWERED else None,
        member_has_interest=truthy(v, "RegisteredInterest"),
    )


def _answerer(v: Mapping[str, Any]) -> Person | None:
    """Who answered: the data names them (or gives an MSP id; both are seen described)."""
    raw = v.get("AnsweredByMSP")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return Person(id=raw, name=f"MSP {raw}")
    name = string(v, "AnsweredByMSP")
    return Person(id=None, name=name) if name else None


__all__ = ["KIND", "LIST_PATH", "ScottishParliamentQuestions", "parse_question", "parse_year"]
