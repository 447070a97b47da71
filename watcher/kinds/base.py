"""The Kind role: what differs between record kinds, in one place per kind.

A kind says which texts its records carry and which facets (what ``department:``,
``member:`` ... filter on), which events it makes and which a rule gets when it names none, how
two versions of one of its records differ as an event, which of its fields count towards the
fingerprint, how its life reads as dated events, and the licence line its digests carry.

``Kind`` here is the behaviour of every kind without a life of its own (a statement, a feed
entry, a committee report): a new item is ``published``, a change to what a reader sees
(title, link, any text) is ``updated``. Written questions override it (``questions``).

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

from watcher.model import Body, Event, EventType, Record, Text


class LifeEvent(NamedTuple):
    """One event of an item's life and the day it happened."""

    type: EventType
    day: date


class Stored(Protocol):
    """What dating an item's life reads: a ``Record``, or the store's ``MatchInput`` for one."""

    @property
    def kind(self) -> str: ...

    @property
    def body(self) -> Body | None: ...


@dataclass(frozen=True)
class Kind:
    """One record kind. Subclass to change what its events are."""

    name: str  # as records carry it: "written_statement"
    noun: str  # "statement": what a reader calls one, and what ``type:`` accepts
    texts: tuple[str, ...]  # text names, in the order a digest shows them
    facets: tuple[str, ...]
    licence: str  # the line its digests carry ("" when the source's config says it)
    licence_url: str = ""
    # The digest item templates it is shown with: ``items/<template>.html.j2`` and ``.txt.j2``.
    template: str = "item"
    events: tuple[EventType, ...] = (EventType.PUBLISHED, EventType.UPDATED)
    default_events: tuple[EventType, ...] = (EventType.PUBLISHED, EventType.UPDATED)

    def meaningful(self, r: Record) -> dict[str, Any]:
        """What the fingerprint covers: the title, the link, every text's words and the
        attachments; not the facets (a re-labelled category is not news), not the markup."""
        return {
            "key": r.key,
            "kind": r.kind,
            "title": " ".join(r.title.split()),
            "url": r.url,
            "texts": {name: plain(t) for name, t in r.texts.items()},
            "attachments": sorted(a.url for a in r.attachments),
        }

    def event(self, record: Record, previous: Record | None) -> Event | None:
        """The event ``record`` makes against the stored ``previous`` version, if any."""
        if previous is None:
            return Event(EventType.PUBLISHED, record)
        if previous.fingerprint == record.fingerprint:
            return None
        return Event(EventType.UPDATED, record, previous)

    def life(self, item: Stored, day: date) -> tuple[LifeEvent, ...]:
        """The events a watcher polling all along would have made, from the current version:
        it was published on its day (an update in place leaves no date of its own)."""
        return (LifeEvent(EventType.PUBLISHED, day),)

    def event_day(self, event: Event) -> date | None:
        """The day an event happened, as the source dates it."""
        return event.record.day


def plain(text: Text | None) -> str | None:
    """A text's words for comparing: markup and whitespace are not a change."""
    return " ".join(text.plain.split()) if text else None


def facets(**labels: tuple[str | int | None, ...] | None) -> Mapping[str, tuple[str, ...]]:
    """Facets from labels, leaving out the empty: ``facets(department=("DfE", 60))``."""
    out: dict[str, tuple[str, ...]] = {}
    for name, values in labels.items():
        kept = tuple(str(v) for v in values or () if v is not None and str(v).strip())
        if kept:
            out[name] = kept
    return out
