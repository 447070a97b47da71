"""Written questions: the kind whose events follow a question's life.

    (none) ──▶ TABLED     first seen tabled
           ──▶ HOLDING    first seen with a holding answer
           ──▶ ANSWERED   first seen answered        (CORRECTED if it is already a correction)
           ──▶ WITHDRAWN  first seen withdrawn

    tabled   ──▶ holding    HOLDING
    tabled   ──▶ answered   ANSWERED
    holding  ──▶ answered   ANSWERED, replaces_holding=True
    answered ──▶ answered   CORRECTED when the answer's plain text changed (whether or not the
                            source flags a correction), is_correction became true, or
                            date_corrected changed
    any      ──▶ withdrawn  WITHDRAWN

Every other change (grouped questions, member details, a withdrawn question reappearing, ...)
updates the stored record without an event.

``written_question`` builds a record from a question's fields, filling its texts, facets and
day from them, so the parts that say the same thing cannot disagree; ``revise`` changes some.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from watcher.kinds.base import Kind, LifeEvent, Stored, facets, plain
from watcher.model import (
    Attachment,
    Event,
    EventType,
    Person,
    QuestionBody,
    Record,
    Status,
    Text,
)

NAME = "written_question"
OPEN_PARLIAMENT_LICENCE = (
    "Contains Parliamentary information licensed under the Open Parliament Licence v3.0."
)
OPEN_PARLIAMENT_LICENCE_URL = (
    "https://www.parliament.uk/site-information/copyright-parliament/open-parliament-licence/"
)

_FIRST_SEEN = {
    Status.TABLED: EventType.TABLED,
    Status.HOLDING: EventType.HOLDING,
    Status.ANSWERED: EventType.ANSWERED,
    Status.WITHDRAWN: EventType.WITHDRAWN,
}


@dataclass(frozen=True)
class Questions(Kind):
    """A kind of written question (Westminster's, and the devolved parliaments')."""

    events: tuple[EventType, ...] = (
        EventType.TABLED,
        EventType.HOLDING,
        EventType.ANSWERED,
        EventType.CORRECTED,
        EventType.WITHDRAWN,
    )
    default_events: tuple[EventType, ...] = (EventType.ANSWERED, EventType.CORRECTED)
    template: str = "question"

    def meaningful(self, r: Record) -> dict[str, Any]:
        # Not the department's name (its id says it), the due date, named-day and interest
        # flags, the original answer or a member's party: none of them is news on its own.
        b = question_of(r)

        def person(p: Person | None) -> Any:
            return [p.id, p.name] if p else None

        return {
            "key": r.key,
            "title": r.title,
            "status": b.status.value,
            "house": b.house,
            "uin": b.uin,
            "department_id": b.department_id,
            "asked_by": person(b.asked_by),
            "answered_by": person(b.answered_by),
            "corrected_by": person(b.corrected_by),
            "texts": {name: plain(t) for name, t in r.texts.items()},
            "dates": [
                d.isoformat() if d else None
                for d in (b.date_tabled, b.date_answered, b.date_holding, b.date_corrected)
            ],
            "is_correction": b.is_correction,
            "grouped": sorted(g.uin for g in b.grouped),
            "attachments": sorted(a.url for a in r.attachments),
        }

    def event(self, record: Record, previous: Record | None) -> Event | None:
        now_b = question_of(record)
        if previous is None:
            kind = _FIRST_SEEN[now_b.status]
            if kind is EventType.ANSWERED and now_b.is_correction:
                kind = EventType.CORRECTED
            return Event(kind, record)
        if previous.fingerprint == record.fingerprint:
            return None
        before, now = question_of(previous).status, now_b.status
        if now is Status.WITHDRAWN:
            return Event(EventType.WITHDRAWN, record, previous) if before is not now else None
        if now is Status.HOLDING and before is Status.TABLED:
            return Event(EventType.HOLDING, record, previous)
        if now is Status.ANSWERED and before is Status.TABLED:
            return Event(EventType.ANSWERED, record, previous)
        if now is Status.ANSWERED and before is Status.HOLDING:
            return Event(EventType.ANSWERED, record, previous, replaces_holding=True)
        if now is Status.ANSWERED and before is Status.ANSWERED and _corrected(previous, record):
            return Event(EventType.CORRECTED, record, previous)
        return None

    def life(self, item: Stored, day: date) -> tuple[LifeEvent, ...]:
        """From the current version alone, in the order of its life:

            TABLED     always, on the tabled date
            HOLDING    if it had a holding answer (a date for one, or its status), on that date
            ANSWERED   if it is answered now, on the answered date
            CORRECTED  if it is answered and its answer was corrected, on the corrected date
            WITHDRAWN  if it is withdrawn now, on ``day``: the API dates no withdrawal

        ``day`` stands in for any date missing. ``event`` makes one event per poll that sees a
        change, so a question first seen already corrected makes CORRECTED alone; watched from
        the start it made ANSWERED first, and that is what this lists."""
        b = item.body
        assert isinstance(b, QuestionBody), f"{item.kind} record without a question body"
        out = [LifeEvent(EventType.TABLED, b.date_tabled or day)]
        if b.date_holding is not None or b.status is Status.HOLDING:
            out.append(LifeEvent(EventType.HOLDING, b.date_holding or b.date_answered or day))
        if b.status is Status.ANSWERED:
            answered = b.date_answered or day
            out.append(LifeEvent(EventType.ANSWERED, answered))
            if b.is_correction or b.date_corrected is not None:
                out.append(LifeEvent(EventType.CORRECTED, b.date_corrected or answered))
        if b.status is Status.WITHDRAWN:
            out.append(LifeEvent(EventType.WITHDRAWN, day))
        return tuple(out)

    def event_day(self, event: Event) -> date | None:
        b = question_of(event.record)
        by_type = {
            EventType.ANSWERED: b.date_answered,
            EventType.CORRECTED: b.date_corrected,
            EventType.HOLDING: b.date_holding,
            EventType.TABLED: b.date_tabled,
            EventType.WITHDRAWN: b.date_tabled,
        }
        return by_type.get(event.type) or b.date_answered or b.date_tabled


WRITTEN_QUESTIONS = Questions(
    name=NAME,
    noun="question",
    texts=("question", "answer"),
    facets=("house", "department", "member", "asked_by", "answered_by", "party", "uin"),
    licence=OPEN_PARLIAMENT_LICENCE,
    licence_url=OPEN_PARLIAMENT_LICENCE_URL,
)


def _corrected(previous: Record, record: Record) -> bool:
    before, now = question_of(previous), question_of(record)
    return (
        (plain(previous.text("answer")) or "") != (plain(record.text("answer")) or "")
        or (now.is_correction and not before.is_correction)
        or (now.date_corrected is not None and now.date_corrected != before.date_corrected)
    )


def question_of(record: Record) -> QuestionBody:
    """The question body of a written question's record."""
    body = record.body
    if not isinstance(body, QuestionBody):
        raise TypeError(f"record {record.source}/{record.key} ({record.kind}) is not a question")
    return body


def written_question(
    *,
    source: str,
    key: str,
    title: str,
    url: str,
    status: Status,
    question: Text | None = None,
    answer: Text | None = None,
    attachments: tuple[Attachment, ...] = (),
    kind: str = NAME,
    **body: Any,
) -> Record:
    """A written question's record from its fields (``QuestionBody``'s, and the texts)."""
    b = QuestionBody(status=status, **body)
    texts = {n: t for n, t in (("question", question), ("answer", answer)) if t is not None}
    days = [d for d in (b.date_tabled, b.date_answered, b.date_corrected) if d is not None]
    return Record(
        source=source,
        key=key,
        kind=kind,
        title=title,
        url=url,
        day=max(days) if days else None,
        texts=texts,
        facets=question_facets(b),
        attachments=attachments,
        body=b,
    )


def revise(record: Record, **changes: Any) -> Record:
    """``record`` with some of its question's fields changed (``dataclasses.replace`` for the
    fields ``written_question`` takes)."""
    return written_question(**{**question_fields(record), **changes})


def question_fields(record: Record) -> dict[str, Any]:
    """The fields ``written_question`` would take to build ``record``."""
    b = question_of(record)
    return {
        "source": record.source,
        "key": record.key,
        "title": record.title,
        "url": record.url,
        "question": record.text("question"),
        "answer": record.text("answer"),
        "attachments": record.attachments,
        "kind": record.kind,
        **{f.name: getattr(b, f.name) for f in fields(b)},
    }


def question_facets(b: QuestionBody) -> Mapping[str, tuple[str, ...]]:
    def who(p: Person | None) -> tuple[str | int | None, ...]:
        return (p.name, p.id) if p else ()

    return facets(
        house=(b.house,),
        department=(b.department, b.department_id),
        asked_by=who(b.asked_by),
        answered_by=who(b.answered_by),
        member=(*who(b.asked_by), *who(b.answered_by)),
        party=(b.asked_by.party if b.asked_by else None,),
        uin=(b.uin,),
    )


__all__ = [
    "NAME",
    "OPEN_PARLIAMENT_LICENCE",
    "OPEN_PARLIAMENT_LICENCE_URL",
    "WRITTEN_QUESTIONS",
    "Questions",
    "question_facets",
    "question_fields",
    "question_of",
    "revise",
    "written_question",
]
