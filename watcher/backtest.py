"""Backtesting a rule against stored history: which stored items it matches, what a
subscription to it would have been sent, and how often (``watcher test-rule``).

``search`` gives EXACTLY the live matcher's answer over the current version of every stored
record. The store's full-text index only narrows the field: it returns every record holding one
of ``watcher.match.literals(query)`` (a superset of the matches), and each candidate is then
confirmed by the live matcher, ``watcher.match.matches``, on the document the matcher builds
for the record (``Document.from_record``'s fields and metadata, read by the store without
decoding the whole record: ``Store.match_inputs``). The index is never the judge. Where every
part of a query must match (AND, NEAR, the words and adjacent pairs of a phrase) the literals of
each part are required together (``required_words``), which narrows far more than one set
alone. Only the ``newest`` items shown are read whole and get their hits (``match_document``);
``matches`` is the same decision without working hits out.

What a subscription would have been sent is counted in *alerts*: one per event of a matching
item's life (``watcher.diff.life_events``, dated from the same ``MatchInput``) that the rule
wants, on or after ``since``. The histogram, the digests per cadence and the newest items all
count alerts, so a holding answer is not an alert to a rule that wants answers.

The figures and reports (the per-week histogram, the digests per cadence, snippets, the
``backfill`` hint, text and JSON) are ``backtest_report``'s. This module does no I/O of its
own: reading goes through the ``Store`` it is handed; opening the store, printing and exit
codes are left to ``cli``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from operator import attrgetter
from typing import NamedTuple

from watcher.diff import LifeEvent, life_events
from watcher.kinds import kind_of
from watcher.kinds.questions import WRITTEN_QUESTIONS
from watcher.match import (
    And,
    Document,
    Field,
    Literal,
    Near,
    Node,
    Not,
    Query,
    Term,
    literals,
    match_document,
    matches,
)
from watcher.match.literals import WordSpec, cost, word_specs
from watcher.model import EventType, Hit, Record
from watcher.store.base import PAIR, Candidate, Store, StoredSpan

BATCH = 500  # candidates read from the store at a time
# More groups narrow little more; each costs the index a posting list to intersect.
MAX_GROUPS = 3
MAX_PAIRS = 16  # pairs of inflected forms one group may hold
_SINCE = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
# Every event but HOLDING falls on or before the item's day (Candidate.day), so the index may
# drop items whose day is before ``since``; a holding answer can come after it.
_WITHIN_DAY = frozenset(EventType) - {EventType.HOLDING}


def _defaults(kind: str) -> frozenset[EventType]:
    return frozenset(kind_of(kind).default_events)


def default_events(kinds: Collection[str] | None = None) -> tuple[EventType, ...]:
    """The events a rule gets when its configuration names none (``RuleConfig.events``): each
    kind's defaults, of ``kinds`` (record kinds' names) or of written questions."""
    wanted = {e for k in kinds or (WRITTEN_QUESTIONS.name,) for e in kind_of(k).default_events}
    return tuple(e for e in EventType if e in wanted)


class Alerted(NamedTuple):
    """A matching item and the alerts it would have sent: its counted events, in the order
    of its life, and the day of the latest. (A NamedTuple: a broad rule makes one for each
    of tens of thousands of items.)"""

    source: str
    key: str
    day: date
    events: tuple[LifeEvent, ...]


@dataclass(frozen=True)
class Example:
    """One alerted item with its counted events and the hits the live matcher reported."""

    record: Record
    day: date
    events: tuple[LifeEvent, ...]
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Backtest:
    """What a rule matches in stored history and what it would have sent. ``events`` are the
    event types counted, in the order of a question's life; ``sources`` None is every
    source. ``matched`` is every item the query matches whose day is ``since`` or later (or
    that has an alert), newest day first; ``alerted`` the items with at least one alert,
    latest alert first. ``stored`` is read only when nothing was alerted: how much history
    the searched sources hold."""

    query: str
    rule: str | None
    events: tuple[EventType, ...]
    sources: tuple[str, ...] | None
    since: date | None
    candidates: int  # records the full-text index let through to the matcher
    matched: tuple[Candidate, ...]
    alerted: tuple[Alerted, ...]
    newest: tuple[Example, ...]
    stored: StoredSpan | None = None

    @property
    def alert_days(self) -> list[date]:
        """One day per alert."""
        return [e.day for a in self.alerted for e in a.events]

    @property
    def alerts(self) -> int:
        return sum(len(a.events) for a in self.alerted)

    @property
    def empty(self) -> bool:
        """True when the searched sources hold nothing stored in the window."""
        s = self.stored
        if s is None or self.alerted:
            return False
        return s.last_day is None or (self.since is not None and s.last_day < self.since)


# --- searching ------------------------------------------------------------------------------


def search(
    store: Store,
    query: Query,
    *,
    events: Collection[EventType] | None = None,
    sources: Collection[str] | None = None,
    since: date | None = None,
    newest: int = 5,
    rule: str | None = None,
) -> Backtest:
    """Every stored record (current version) that ``query`` matches, and the alerts a
    subscription wanting ``events`` (default: a rule's, ``default_events``) would have had
    from them, on or after ``since``, with the hits of the ``newest`` most recently alerted.
    ``sources`` None searches every source. ``rule`` only labels the result."""
    counted = None if events is None else frozenset(events)
    chosen = None if sources is None else tuple(dict.fromkeys(sources))
    within = counted is not None and counted <= _WITHIN_DAY
    found = _candidates(store, query, chosen, since if within or counted is None else None)
    # ``found`` is newest first, so sorting the indexes of the matches keeps that order.
    position = {(c.source, c.key): i for i, c in enumerate(found)}
    matched: list[tuple[int, list[LifeEvent]]] = []
    kinds_seen: set[str] = set()
    for batch in _batches(found):
        inputs = store.match_inputs(batch[0].source, [c.key for c in batch])
        for c in batch:
            got = inputs.get(c.key)
            if got is None or not matches(query, Document.from_record(got)):
                continue
            kinds_seen.add(got.kind)
            wanted = counted if counted is not None else _defaults(got.kind)
            if since is None:
                alerts = [e for e in life_events(got, c.day) if e.type in wanted]
            else:
                alerts = [e for e in life_events(got, c.day) if e.type in wanted and e.day >= since]
                if not alerts and c.day < since:
                    continue
            matched.append((position[(c.source, c.key)], alerts))
    matched.sort()
    alerted = [
        Alerted(found[i].source, found[i].key, _latest(alerts), tuple(alerts))
        for i, alerts in matched
        if alerts
    ]
    # Latest alert first; ties keep the index's order (day, source, key).
    alerted.sort(key=attrgetter("day"), reverse=True)
    return Backtest(
        query=query.text,
        rule=rule,
        events=(
            default_events(kinds_seen)
            if counted is None
            else tuple(e for e in EventType if e in counted)
        ),
        sources=chosen,
        since=since,
        candidates=len(found),
        matched=tuple(found[i] for i, _ in matched),
        alerted=tuple(alerted),
        newest=tuple(_examples(store, query, alerted[:newest])),
        stored=None if alerted else _stored(store, chosen),
    )


def _latest(alerts: Sequence[LifeEvent]) -> date:
    return alerts[0].day if len(alerts) == 1 else max(e.day for e in alerts)


def _candidates(
    store: Store, query: Query, sources: Sequence[str] | None, since: date | None
) -> list[Candidate]:
    """The index's candidates from each of ``sources`` (every source if None), in the order
    it gives them: newest day first, then source, then key descending."""
    required = required_words(query.ast)
    if sources is None:
        return store.candidates(required, since=since)
    found = [c for s in sources for c in store.candidates(required, source=s, since=since)]
    if len(sources) > 1:
        found.sort(key=lambda c: c.key, reverse=True)
        found.sort(key=lambda c: c.source)
        found.sort(key=lambda c: c.day, reverse=True)
    return found


def _stored(store: Store, sources: Sequence[str] | None) -> StoredSpan:
    spans = (
        [store.stored_span(s) for s in sources] if sources is not None else [store.stored_span()]
    )
    firsts = [s.first_day for s in spans if s.first_day is not None]
    lasts = [s.last_day for s in spans if s.last_day is not None]
    return StoredSpan(
        sum(s.count for s in spans),
        min(firsts) if firsts else None,
        max(lasts) if lasts else None,
    )


def _examples(store: Store, query: Query, newest: Sequence[Alerted]) -> list[Example]:
    """The newest alerted items, in order, with their whole record and the hits
    ``match_document`` reports: the only records decoded whole and the only hits worked out."""
    stored: dict[tuple[str, str], Record] = {}
    by_source: dict[str, list[str]] = {}
    for a in newest:
        by_source.setdefault(a.source, []).append(a.key)
    for source, keys in by_source.items():
        for i in range(0, len(keys), BATCH):
            found = store.current(source, keys[i : i + BATCH])
            stored.update(((source, key), record) for key, record in found.items())
    out: list[Example] = []
    for a in newest:
        record = stored.get((a.source, a.key))
        # A poll may have changed the record since it was confirmed; then it has no example.
        hits = None if record is None else match_document(query, Document.from_record(record))
        if record is not None and hits is not None:
            out.append(Example(record, a.day, a.events, hits))
    return out


def required_words(node: Node) -> list[frozenset[Literal]]:
    """Groups of words a match needs one word of each, for the index to intersect, at most
    ``MAX_GROUPS`` of them, the most selective first. Each group is ``watcher.match``'s own
    answer: ``literals`` of the query, or, where every part must match, of each part: each
    positive operand of AND, both sides of NEAR, what a field filter filters, each word of a
    phrase (``WordSpec.literals``) and each pair of adjacent phrase words. Empty: nothing to
    narrow by, every record is a candidate."""
    groups = sorted(set(_required(node)), key=lambda g: (cost(g), sorted(g)))
    return groups[:MAX_GROUPS]


def _required(node: Node) -> list[frozenset[Literal]]:
    if isinstance(node, And):
        return [g for c in node.children if not isinstance(c, Not) for g in _required(c)]
    if isinstance(node, Near):
        return _required(node.left) + _required(node.right)
    if isinstance(node, Field):
        return _required(node.child)
    if isinstance(node, Term):
        specs = word_specs(node)
        pairs = (_pair(a, b) for a, b in pairwise(specs))
        return [spec.literals for spec in specs] + [p for p in pairs if p]
    found = literals(node)
    return [] if found is None else [found]


def _pair(first: WordSpec, second: WordSpec) -> frozenset[Literal]:
    """The index's pairs (``store.base.PAIR``) two adjacent phrase words can make; empty when
    there are too many, or when the first is a wildcard (a pair can only end in a prefix)."""
    if first.prefix is not None:
        return frozenset()
    if second.prefix is not None:
        found = {Literal(f"{a}{PAIR}{second.prefix}", prefix=True) for a in first.forms}
    else:
        found = {Literal(f"{a}{PAIR}{b}") for a in first.forms for b in second.forms}
    return frozenset(found) if len(found) <= MAX_PAIRS else frozenset()


def _batches(found: Sequence[Candidate]) -> Iterator[list[Candidate]]:
    """The candidates by source, at most ``BATCH`` at a time."""
    by_source: dict[str, list[Candidate]] = {}
    for c in found:
        by_source.setdefault(c.source, []).append(c)
    for group in by_source.values():
        for i in range(0, len(group), BATCH):
            yield group[i : i + BATCH]


# --- input -------------------------------------------------------------------------------


def parse_since(value: str, today: date) -> date:
    """``90d`` (days before ``today``), ``12w`` (weeks) or a date ``YYYY-MM-DD``."""
    m = _SINCE.match(value)
    if m:
        n = int(m.group(1))
        return today - (timedelta(days=n) if m.group(2) == "d" else timedelta(weeks=n))
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration nor a date (write e.g. 90d, 12w or 2024-01-31)"
        ) from None
