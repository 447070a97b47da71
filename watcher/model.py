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
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

from pydantic import TypeAdapter

FINGERPRINT_VERSION = 2


class Status(StrEnum):
    """Where a question is in its life."""

    TABLED = "tabled"
    HOLDING = "holding"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"


class EventType(StrEnum):
    """Every event any kind makes; each kind uses its own few (``watcher.kinds``)."""

    TABLED = "tabled"
    HOLDING = "holding"
    ANSWERED = "answered"
    CORRECTED = "corrected"
    WITHDRAWN = "withdrawn"
    PUBLISHED = "published"  # a new item of a kind without a life of its own (a feed entry)
    UPDATED = "updated"  # such an item's meaningful content changed


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
class QuestionBody:
    """What only a written question has: where it is in its life, and who and when.

    ``house``, the department and the members are also the record's facets (what rules filter
    on); here they keep their structure (a member's party and constituency) for display."""

    status: Status
    house: str | None = None
    uin: str | None = None
    department: str | None = None  # answering body
    department_id: int | None = None
    asked_by: Person | None = None
    answered_by: Person | None = None
    corrected_by: Person | None = None
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


Body = QuestionBody


@dataclass(frozen=True)
class Record:
    """One item as its source has it now. ``key`` is stable for the life of the item.

    ``kind`` names its entry in ``watcher.kinds.KINDS``, which says what its texts, facets and
    events are. ``texts`` are what rules search, by name, in the kind's order (``question``,
    ``answer``; ``text``; ``summary``, ``content``); ``facets`` what filters read (``house``,
    ``department``, ``member`` ...), each a tuple of labels: names, and ids written as digits.
    ``day`` is the item's latest dated moment (answered, corrected, published ...), which
    history searches sort and filter by. ``body`` holds what only one kind has.
    """

    source: str
    key: str
    kind: str
    title: str
    url: str
    day: date | None = None
    texts: Mapping[str, Text] = field(default_factory=dict)
    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    body: Body | None = None

    __hash__ = None  # type: ignore[assignment]  # mappings inside: compare, never hash

    @cached_property
    def fingerprint(self) -> str:
        """A versioned hash of what matters to a reader, computed once per record.

        What counts is the kind's business (``watcher.kinds.Kind.meaningful``): markup and
        whitespace never do (the plain text does), nor do presentation details such as member
        thumbnails or a feed's ``<updated>`` stamp, so a record re-rendered upstream does not
        alert again."""
        from watcher.kinds import kind_of  # kinds import this module

        return fingerprint_of({"v": FINGERPRINT_VERSION, **kind_of(self.kind).meaningful(self)})

    def fields(self) -> dict[str, str]:
        """The text fields a rule can match, by name: the title, then the texts in order."""
        out = {"title": self.title}
        for name, value in self.texts.items():
            out[name] = value.plain
        return out

    def text(self, name: str) -> Text | None:
        return self.texts.get(name)

    def facet(self, name: str) -> str | None:
        """The first label of a facet (a name before its id), or None."""
        values = self.facets.get(name)
        return values[0] if values else None


def fingerprint_of(value: Any) -> str:
    """A stable short hash of a JSON-serialisable value. Lone surrogates (a ``\\ud800``
    escape in a source's JSON) are hashed as written rather than refused."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class ListEntry:
    """One item as a source's listing shows it. ``fingerprint`` is of the entry as listed
    (truncated text and all), so an unchanged entry is not fetched again. A listing that
    carries whole items (a feed's) gives the ``record`` too, and nothing is fetched."""

    key: str
    fingerprint: str
    record: Record | None = None
    # A re-read of an item whose listing has not changed (a daily check of recent answers):
    # its record is compared with the stored one although the listing says nothing changed.
    recheck: bool = False


@dataclass(frozen=True)
class Event:
    """What changed about a record. ``previous`` is the version before the change, if stored."""

    type: EventType
    record: Record
    previous: Record | None = None
    replaces_holding: bool = False  # an answer that follows a holding answer

    @property
    def identity(self) -> EventId:
        """Unique per event: the same change seen twice is the same event."""
        return EventId(
            self.record.source, self.record.key, self.type.value, self.record.fingerprint
        )


class EventId(NamedTuple):
    source: str
    key: str
    type: str
    fingerprint: str


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
    # Questions answered together with this one, in the same digest: shown in this item
    # rather than each as an item of its own with the same answer.
    together: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Digest:
    subscription_id: str
    items: tuple[DigestItem, ...]
    period_end: datetime  # items are those matched before this instant (UTC)
    cadence: str  # as configured: "immediate", "daily 07:30", ...


@dataclass(frozen=True)
class Message:
    """What a channel needs to send one digest (or notice), rendered once and stored in the
    outbox, so every attempt sends the same bytes.

    Email formats fill ``subject``, ``text`` and ``html`` (and ``headers``); chat and webhook
    formats fill ``bodies``, JSON documents posted in order (a long digest is several), with
    ``subject`` as a one-line summary for people. Who receives it is not here: that is the
    outbox row's target. ``idempotency_key`` is the same however often it is re-rendered; it
    becomes the Message-ID or ``webhook-id``. ``first_part`` is the place of ``bodies[0]`` in
    the whole message (0 but in what ``rest`` returns), so a part keeps its number, and the
    ``webhook-id`` made from it, when a retry sends only the rest.
    """

    idempotency_key: str
    subject: str = ""
    text: str = ""
    html: str = ""
    bodies: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    first_part: int = 0

    @property
    def parts(self) -> int:
        """How many bodies the whole message has, those sent already included."""
        return self.first_part + len(self.bodies)

    def rest(self, parts_sent: int) -> Message:
        """The message without the bodies a peer already accepted."""
        if not parts_sent:
            return self
        return replace(
            self, bodies=self.bodies[parts_sent:], first_part=self.first_part + parts_sent
        )


# --- JSON (de)serialisation for storage ---------------------------------------------------

# One serialiser, derived from the types above: what is stored is exactly the dataclasses'
# fields, and a field added to a type is stored and read back with no list to keep in step.
_RECORD = TypeAdapter(Record)


def record_to_dict(r: Record) -> dict[str, Any]:
    out: dict[str, Any] = _RECORD.dump_python(r, mode="json")
    return out


def record_to_json(r: Record) -> str:
    return _RECORD.dump_json(r).decode()


def record_from_dict(d: Mapping[str, Any]) -> Record:
    return _RECORD.validate_python(d)


def record_from_json(data: str | bytes) -> Record:
    return _RECORD.validate_json(data)


_MESSAGE = TypeAdapter(Message)


def message_to_json(m: Message) -> str:
    return _MESSAGE.dump_json(m).decode()


def message_from_json(data: str) -> Message:
    return _MESSAGE.validate_json(data)
