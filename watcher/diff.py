"""What is new or changed: which listed entries to fetch, and which events fetched records make.

Pure decisions over values; fetching, storing and matching are left to the pipeline.

``changed`` compares a listing with the fingerprints already known, so an unchanged poll costs
list requests only; a listing entry that carries its whole record (a feed's) is compared the
same way and needs no fetch. ``events`` compares each fetched record with its stored version
and emits at most one event per record, as the record's kind decides (``watcher.kinds``): a
written question follows its life (tabled, holding, answered, corrected, withdrawn), every
other kind is ``published`` when new and ``updated`` when what a reader sees changed.

An unchanged fingerprint is never an event, so re-polling the same data is silent.
``Event.previous`` is the stored version whenever there is one.

``life_events`` reads the same life backwards, from one stored version: the events a watcher
polling all along would have made for the item, each with its day. ``watcher test-rule`` counts
them to say what a subscription would have been sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from watcher.kinds import LifeEvent, Stored, kind_of
from watcher.model import Event, ListEntry, Record

__all__ = ["LifeEvent", "changed", "events", "life_events"]


def changed(entries: Sequence[ListEntry], known: Mapping[str, str]) -> list[ListEntry]:
    """The entries that are new or whose listed fingerprint differs from ``known`` (key ->
    fingerprint), and every re-check, in listing order, each key once (an item can appear in
    several windows)."""
    out: list[ListEntry] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.key in seen or (known.get(entry.key) == entry.fingerprint and not entry.recheck):
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
        event = kind_of(record.kind).event(record, previous)
        if event is not None:
            out.append(event)
        latest[record.key] = record
    return out


def life_events(item: Stored, day: date) -> tuple[LifeEvent, ...]:
    """The events a watcher polling all along would have made for ``item`` (a ``Record`` or
    the store's ``MatchInput``), in the order of its life, from its current version alone
    (``Kind.life``). ``day`` is the item's day (``store.base.Candidate.day``) and stands in
    for any date missing."""
    return kind_of(item.kind).life(item, day)
