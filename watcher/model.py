"""The core values that flow through the pipeline.

Every value here is a frozen dataclass with no behaviour beyond what can be computed from its own
fields: no I/O, no clock. Records are serialised to and from plain JSON (``record_to_dict`` /
``record_from_dict``) so the store can keep every version of them.

    Record    one item as the source has it now (a written question with its answer)
    Event     what changed about a record between two polls
    Hit       one span of text that a rule's term matched
    Match     one rule matching one event, with its hits
    Digest    one subscription's matches for one period, one item per event
    Message   a rendered digest, ready for a channel
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

FINGERPRINT_VERSION = 1


class Status(StrEnum):
    """Where a question is in its life."""

    TABLED = "tabled"
    HOLDING = "holding"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"


class EventType(StrEnum):
    TABLED = "tabled"
    HOLDING = "holding"
    ANSWERED = "answered"
    CORRECTED = "corrected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Person:
    """A member of either House as the API describes them (``expandMember=true``)."""

    id: int | None
    name: str
    party: str | None = None
    constituency: str | None = None  # the API's memberFrom: a constituency, or a Lords peerage type


@dataclass(frozen=True)
class Text:
    """One block of text, kept in both forms: sanitised HTML for display, plain text for matching.

    ``plain`` is derived from ``html`` by ``watcher.text.html_to_text``; match offsets index it.
    """

    html: str
    plain: str


@dataclass(frozen=True)
class Attachment:
    url: str
    title: str
    file_type: str | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class GroupedQuestion:
    uin: str
    date_tabled: date | None


@dataclass(frozen=True)
class Record:
    """One item as its source has it now. ``key`` is stable for the life of the item."""

    source: str
    key: str
    kind: str  # "written_question"
    title: str  # the question's heading
    url: str
    status: Status
    house: str | None = None
    uin: str | None = None
    department: str | None = None  # answering body
    department_id: int | None = None
    asked_by: Person | None = None
    answered_by: Person | None = None
    corrected_by: Person | None = None
    question: Text | None = None
    answer: Text | None = None
    original_answer: Text | None = None  # the answer before a correction, as the source gives it
    date_tabled: date | None = None
    date_for_answer: date | None = None
    date_answered: date | None = None
    date_holding: date | None = None
    date_corrected: date | None = None
    is_correction: bool = False
    named_day: bool = False
    member_has_interest: bool = False
    grouped: tuple[GroupedQuestion, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    @property
    def fingerprint(self) -> str:
        """A hash of the fields that matter to a reader.

        Markup and whitespace do not count (the plain text does), nor do presentation details
        such as member thumbnails, so a record that is re-rendered upstream does not alert again.
        """
        return fingerprint_of(_meaningful(self))

    def fields(self) -> dict[str, str]:
        """The text fields a rule can match, by name. Absent fields are empty strings."""
        return {
            "heading": self.title,
            "question": self.question.plain if self.question else "",
            "answer": self.answer.plain if self.answer else "",
        }


def _meaningful(r: Record) -> dict[str, Any]:
    def plain(t: Text | None) -> str | None:
        return " ".join(t.plain.split()) if t else None

    def person(p: Person | None) -> Any:
        return [p.id, p.name] if p else None

    return {
        "v": FINGERPRINT_VERSION,
        "key": r.key,
        "title": r.title,
        "status": r.status.value,
        "house": r.house,
        "uin": r.uin,
        "department_id": r.department_id,
        "asked_by": person(r.asked_by),
        "answered_by": person(r.answered_by),
        "corrected_by": person(r.corrected_by),
        "question": plain(r.question),
        "answer": plain(r.answer),
        "dates": [
            _iso(d)
            for d in (
                r.date_tabled,
                r.date_answered,
                r.date_holding,
                r.date_corrected,
            )
        ],
        "is_correction": r.is_correction,
        "grouped": sorted(g.uin for g in r.grouped),
        "attachments": sorted(a.url for a in r.attachments),
    }


def fingerprint_of(value: Any) -> str:
    """A stable short hash of a JSON-serialisable value."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class Event:
    """What changed about a record. ``previous`` is the version before the change, if stored."""

    type: EventType
    record: Record
    previous: Record | None = None
    replaces_holding: bool = False  # an answer that follows a holding answer

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """Unique per event: the same change seen twice is the same event."""
        return (self.record.source, self.record.key, self.type.value, self.record.fingerprint)


@dataclass(frozen=True, order=True)
class Hit:
    """A span of ``Record.fields()[field]`` that a term of a rule matched.

    A metadata filter (``house:lords``) that matched is a zero-width hit whose ``field`` names
    the metadata (``house``): there is nothing to highlight, but explanations can name it."""

    field: str
    start: int
    end: int
    term: str  # the term as the rule wrote it (a synonym set as ~NAME, NEAR as "a NEAR b")
    via: str = ""  # the synonym expansion that matched, as configured


@dataclass(frozen=True)
class Match:
    rule_id: str
    event: Event
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class DigestItem:
    """One event in a digest, with every rule that matched it and the union of their hits."""

    event: Event
    rule_ids: tuple[str, ...]
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Digest:
    subscription_id: str
    items: tuple[DigestItem, ...]
    period_end: datetime  # items are those matched before this instant (UTC)
    cadence: str  # as configured: "immediate", "daily 07:30", ...


@dataclass(frozen=True)
class Message:
    """A rendered digest. ``idempotency_key`` is the same however often it is re-rendered."""

    idempotency_key: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    headers: Mapping[str, str] = field(default_factory=dict)


# --- JSON (de)serialisation for storage ---------------------------------------------------


def record_to_dict(r: Record) -> dict[str, Any]:
    def person(p: Person | None) -> Any:
        return None if p is None else vars(p).copy()

    def text(t: Text | None) -> Any:
        return None if t is None else {"html": t.html, "plain": t.plain}

    return {
        "source": r.source,
        "key": r.key,
        "kind": r.kind,
        "title": r.title,
        "url": r.url,
        "status": r.status.value,
        "house": r.house,
        "uin": r.uin,
        "department": r.department,
        "department_id": r.department_id,
        "asked_by": person(r.asked_by),
        "answered_by": person(r.answered_by),
        "corrected_by": person(r.corrected_by),
        "question": text(r.question),
        "answer": text(r.answer),
        "original_answer": text(r.original_answer),
        "date_tabled": _iso(r.date_tabled),
        "date_for_answer": _iso(r.date_for_answer),
        "date_answered": _iso(r.date_answered),
        "date_holding": _iso(r.date_holding),
        "date_corrected": _iso(r.date_corrected),
        "is_correction": r.is_correction,
        "named_day": r.named_day,
        "member_has_interest": r.member_has_interest,
        "grouped": [{"uin": g.uin, "date_tabled": _iso(g.date_tabled)} for g in r.grouped],
        "attachments": [vars(a).copy() for a in r.attachments],
    }


def record_from_dict(d: Mapping[str, Any]) -> Record:
    def person(v: Any) -> Person | None:
        return None if v is None else Person(**v)

    def text(v: Any) -> Text | None:
        return None if v is None else Text(html=v["html"], plain=v["plain"])

    def day(v: Any) -> date | None:
        return None if v is None else date.fromisoformat(v)

    return Record(
        source=d["source"],
        key=d["key"],
        kind=d["kind"],
        title=d["title"],
        url=d["url"],
        status=Status(d["status"]),
        house=d.get("house"),
        uin=d.get("uin"),
        department=d.get("department"),
        department_id=d.get("department_id"),
        asked_by=person(d.get("asked_by")),
        answered_by=person(d.get("answered_by")),
        corrected_by=person(d.get("corrected_by")),
        question=text(d.get("question")),
        answer=text(d.get("answer")),
        original_answer=text(d.get("original_answer")),
        date_tabled=day(d.get("date_tabled")),
        date_for_answer=day(d.get("date_for_answer")),
        date_answered=day(d.get("date_answered")),
        date_holding=day(d.get("date_holding")),
        date_corrected=day(d.get("date_corrected")),
        is_correction=bool(d.get("is_correction", False)),
        named_day=bool(d.get("named_day", False)),
        member_has_interest=bool(d.get("member_has_interest", False)),
        grouped=tuple(
            GroupedQuestion(uin=g["uin"], date_tabled=day(g.get("date_tabled")))
            for g in d.get("grouped", ())
        ),
        attachments=tuple(Attachment(**a) for a in d.get("attachments", ())),
    )
