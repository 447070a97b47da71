"""Northern Ireland Assembly written questions as a ``Source`` (the AIMS open data service).

``list`` asks ``GET /questions.asmx/GetQuestionsForWrittenAnswer_AnsweredInRange_JSON`` for the
questions answered between the window's dates (``startDate``/``endDate``), and fingerprints
every entry as listed. The service's JSON is translated from XML, so its envelope
``{"QuestionsList": {"Question": ...}}`` holds a list, or a single object when one question
matched, or nothing at all when none did (``questions_of`` reads all three), and ids may
arrive as digits in strings.

An entry that carries its answer (``AnswerPlainText`` or ``AnswerHtml``) is parsed at once and
listed whole. One that does not is fetched: ``fetch`` asks
``GET /questions.asmx/GetQuestionDetails_JSON?documentId=`` for each, a few at a time.
``parse_question`` is pure; every request goes through ``PoliteClient``.

Field names are as others report them, unconfirmed (see
``watcher/testing/data/ni/README.md``); so is the public page a record links to: AIMS's
question summary, ``printquestionsummary.aspx?docid=``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from watcher.config import NiQuestionsSourceConfig
from watcher.errors import ParseError, SourceError
from watcher.kinds.devolved import NI_ASSEMBLY_QUESTIONS, NI_HOUSE
from watcher.kinds.questions import written_question
from watcher.logs import q
from watcher.model import ListEntry, Person, Record, Status, fingerprint_of
from watcher.sources.apijson import day
from watcher.sources.base import Cursor, Fetched, Listing
from watcher.sources.common import api_client, fetch_each
from watcher.sources.devolved import (
    html_or_plain,
    ident,
    plain_field,
    string,
    title_from,
    unreadable,
)

logger = logging.getLogger(__name__)

KIND = NI_ASSEMBLY_QUESTIONS.name
RANGE_PATH = "/questions.asmx/GetQuestionsForWrittenAnswer_AnsweredInRange_JSON"
DETAIL_PATH = "/questions.asmx/GetQuestionDetails_JSON"
PUBLIC_URL = "https://aims.niassembly.gov.uk/questions/printquestionsummary.aspx?docid={id}"
_ANSWER_FIELDS = ("AnswerPlainText", "AnswerHtml")


class NiAssemblyQuestions:
    """Written questions answered in the Northern Ireland Assembly. Implements
    ``sources.base.Source``."""

    def __init__(
        self,
        config: NiQuestionsSourceConfig,
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
        params = {"startDate": since.isoformat(), "endDate": until.isoformat()}
        try:
            values = questions_of(self._client.get_json(RANGE_PATH, params), RANGE_PATH)
        except SourceError as exc:
            logger.warning("event=list_failed source=%s error=%s", self.id, q(exc))
            return Listing((), error=exc)
        entries: dict[str, ListEntry] = {}
        problems: list[str] = []
        for value in values:
            try:
                key = _key(value)
                whole = parse_question(value, self.id) if _has_answer(value) else None
            except ParseError as exc:
                problems.append(str(exc))
                continue
            entries[key] = ListEntry(key, fingerprint_of(value), whole)
        logger.info(
            "event=list_done source=%s since=%s until=%s entries=%d unreadable=%d",
            self.id,
            since,
            until,
            len(entries),
            len(problems),
        )
        error = ParseError(unreadable(problems)) if problems else None
        return Listing(tuple(entries.values()), error=error)

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        return fetch_each(self.id, entries, self._fetch_one, self._config.max_concurrency)

    def _fetch_one(self, key: str) -> Record:
        body = self._client.get_json(DETAIL_PATH, {"documentId": key})
        found = questions_of(body, DETAIL_PATH)
        if len(found) != 1:
            raise ParseError(f"GET {DETAIL_PATH}: expected one question, got {len(found)}")
        record = parse_question(found[0], self.id)
        if record.key != key:
            raise ParseError(f"GET {DETAIL_PATH}: asked for {key}, answered with {record.key}")
        return record

    def close(self) -> None:
        self._client.close()


# --- parsing: pure -------------------------------------------------------------------------


def questions_of(body: Any, what: str) -> list[Mapping[str, Any]]:
    """The questions in an AIMS answer: ``{"QuestionsList": {"Question": [...]}}``, where a
    lone question is an object rather than a list of one, and no question at all may leave
    the list, or the envelope's inside, empty, null or missing."""
    if not isinstance(body, dict):
        raise ParseError(f"GET {what}: expected an object with a QuestionsList")
    if "QuestionsList" not in body:
        raise ParseError(f"GET {what}: field QuestionsList: missing")
    inner = body["QuestionsList"]
    if inner in (None, "", [], {}):
        return []
    if not isinstance(inner, dict):
        raise ParseError(f"GET {what}: field QuestionsList: expected an object")
    found = inner.get("Question")
    if found in (None, ""):
        return []
    items = [found] if isinstance(found, dict) else found
    if not isinstance(items, list):
        raise ParseError(f"GET {what}: field QuestionsList.Question: expected a list or object")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ParseError(f"GET {what}: field QuestionsList.Question[{i}]: expected an object")
    return items


def _key(value: Mapping[str, Any]) -> str:
    document = ident(value, "DocumentId")
    if document is None:
        raise ParseError("question: field DocumentId: missing")
    return str(document)


def _has_answer(value: Mapping[str, Any]) -> bool:
    return any(isinstance(value.get(n), str) and value[n].strip() for n in _ANSWER_FIELDS)


def parse_question(value: Mapping[str, Any], source_id: str) -> Record:
    """One AIMS question as an ``ni_assembly_question`` record.

    Raises ``ParseError`` naming the question and the field."""
    key = _key(value)
    try:
        return _parse(value, source_id, key)
    except ParseError as exc:
        raise ParseError(f"question {key}: {exc}") from exc


def _parse(v: Mapping[str, Any], source_id: str, key: str) -> Record:
    question = plain_field(v, "QuestionText")
    answer = html_or_plain(v, "AnswerHtml", "AnswerPlainText")
    answered = day(v, "AnsweredOnDate")
    status = Status.ANSWERED if answer is not None else Status.TABLED
    reference = string(v, "Reference")
    tabler = string(v, "TablerName")
    tabler_id = ident(v, "TablerPersonId")
    minister = string(v, "MinisterTitle")
    return written_question(
        source=source_id,
        key=key,
        kind=KIND,
        title=title_from(question.plain if question else reference or f"Question {key}"),
        url=PUBLIC_URL.format(id=key),
        status=status,
        question=question,
        answer=answer,
        house=NI_HOUSE,
        uin=reference,
        department=string(v, "Department"),
        department_id=ident(v, "DepartmentID"),
        asked_by=(
            Person(id=tabler_id, name=tabler or f"MLA {tabler_id}")
            if tabler or tabler_id is not None
            else None
        ),
        # AIMS names the office that answers, not the person holding it.
        answered_by=Person(id=None, name=minister) if minister and answer else None,
        date_tabled=day(v, "TabledDate"),
        date_for_answer=day(v, "AnswerByDate"),
        date_answered=answered if answer is not None else None,
    )


__all__ = ["DETAIL_PATH", "KIND", "RANGE_PATH", "NiAssemblyQuestions", "parse_question"]
