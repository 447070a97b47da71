"""What is new or changed: which listed entries to fetch, and which events fetched records make.

Pure decisions over values; fetching, storing and matching are left to the pipeline.

``changed`` compares a listing with the fingerprints already known, so an unchanged poll costs
list requests only. ``events`` compares each fetched record with its stored version and emits at
most one event per record, following the life of a written question::

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

An unchanged fingerprint is never an event, so re-polling the same data is silent. Every other
change (grouped questions, member details, a withdrawn question reappearing, ...) updates the
stored record without an event. ``Event.previous`` is the stored version whenever there is one.

``life_events`` reads the same life backwards, from one stored version: the events a watcher
polling all along would have made for the item, each with its day. ``watcher test-rule`` counts
them to say what a subscription would have been sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import NamedTuple, Protocol

from watcher.model import Event, EventType, Record, Status, Text
from watcher.sources.base import ListEntry

_FIRST_SEEN = {
    Status.TABLED: EventType.TABLED,
    Status.HOLDING: EventType.HOLDING,
    Status.ANSWERED: EventType.ANSWERED,
    Status.WITHDRAWN: EventType.WITHDRAWN,
}


def changed(entries: Sequence[ListEntry], known: Mapping[str, str]) -> list[ListEntry]:
    """The entries that are new or whose listed fingerprint differs from ``known`` (key ->
    fingerprint), in listing order, each key once (an item can appear in several windows)."""
    out: list[ListEntry] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.key in seen or known.get(entry.key) == entry.fingerprint:
            continue
        seen.add(entry.key)
        out.append(entry)
    return out


def events(records: Sequence[Record], stored: Mapping[str, Record]) -> list[Event]:
    """The events that ``records`` make against ``stored`` (key -> stored version), in order.

    A key fetched twice in one batch is compared the second time with the first, so the same
    change is not reported twice.
    """
    out: list[Event] = []
    latest: dict[str, Record] = {}
    for record in records:
        previous = latest.get(record.key) or stored.get(record.key)
        event = _event(record, previous)
        if event is not None:
            out.append(event)
        latest[record.key] = record
    return out


def _event(record: Record, previous: Record | None) -> Event | None:
    if previous is None:
        kind = _FIRST_SEEN[record.status]
        if kind is EventType.ANSWERED and record.is_correction:
            kind = EventType.CORRECTED
        return Event(kind, record)
    if previous.fingerprint == record.fingerprint:
        return None
    before, now = previous.status, record.status
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


def _corrected(previous: Record, record: Record) -> bool:
    return (
        _plain(previous.answer) != _plain(record.answer)
        or (record.is_correction and not previous.is_correction)
        or (record.date_corrected is not None and record.date_corrected != previous.date_corrected)
    )


def _plain(text: Text | None) -> str:
    # The same comparison as the fingerprint: markup and whitespace are not a correction.
    return " ".join(text.plain.split()) if text else ""


# --- an item's life, from its current version ---------------------------------------------


class Dated(Protocol):
    """What dates an item's life: a ``Record``, or the store's ``MatchInput`` for one."""

    @property
    def status(self) -> Status: ...

    @property
    def date_tabled(self) -> date | None: ...

    @property
    def date_holding(self) -> date | None: ...

    @property
    def date_answered(self) -> date | None: ...

    @property
    def date_corrected(self) -> date | None: ...

    @property
    def is_correction(self) -> bool: ...


class LifeEvent(NamedTuple):
    """One event of an item's life and the day it happened."""

    type: EventType
    day: date


def life_events(item: Dated, day: date) -> tuple[LifeEvent, ...]:
    """The events a watcher polling all along would have made for ``item``, in the order of
    its life, from its current version alone:

        TABLED     always, on the tabled date
        HOLDING    if it had a holding answer (a date for one, or its status), on that date
        ANSWERED   if it is answered now, on the answered date
        CORRECTED  if it is answered and its answer was corrected, on the corrected date
        WITHDRAWN  if it is withdrawn now, on ``day``: the API dates no withdrawal

    ``day`` is the item's day (``store.base.Candidate.day``: its latest tabled, answered or
    corrected date, else the day it was first stored), and stands in for any date missing.
    ``events`` makes one event per poll that sees a change, so a question first seen already
    corrected makes CORRECTED alone; watched from the start it made ANSWERED first, and that
    is what this lists."""
    out = [LifeEvent(EventType.TABLED, item.date_tabled or day)]
    if item.date_holding is not None or item.status is Status.HOLDING:
        out.append(LifeEvent(EventType.HOLDING, item.date_holding or item.date_answered or day))
    if item.status is Status.ANSWERED:
        answered = item.date_answered or day
        out.append(LifeEvent(EventType.ANSWERED, answered))
        if item.is_correction or item.date_corrected is not None:
            out.append(LifeEvent(EventType.CORRECTED, item.date_corrected or answered))
    if item.status is Status.WITHDRAWN:
        out.append(LifeEvent(EventType.WITHDRAWN, day))
    return tuple(out)
