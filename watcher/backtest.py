"""Backtesting a rule against stored history: which stored items it matches, how often, and
what that would have meant in digests (``watcher test-rule``).

``search`` gives EXACTLY the live matcher's answer over the current version of every stored
record. The store's full-text index only narrows the field: it returns every record holding one
of ``watcher.match.literals(query)`` (a superset of the matches), and each candidate is then
confirmed by the live matcher, ``watcher.match.matches``, on the document the matcher builds
for the record (``Document.from_record``'s fields and metadata, read by the store without
decoding the whole record: ``Store.match_inputs``). The index is never the judge. Where every
part of a query must match (AND, NEAR, the words and adjacent pairs of a phrase) the literals of
each part are required together (``required_words``), which narrows far more than one set
alone. Only the ``newest`` matches shown are read whole and get their hits
(``match_document``); ``matches`` is the same decision without working hits out.

Everything else here is pure: the per-week histogram, the digest estimates per cadence, the
snippets, the ``--since`` value and the text and JSON reports. This module does no I/O of its
own: reading goes through the ``Store`` it is handed; opening the store, printing and exit codes
are left to ``cli``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

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
from watcher.model import Hit, Record
from watcher.store.base import PAIR, Candidate, Store
from watcher.text import highlight_text

SNIPPET_CONTEXT = 80  # characters either side of a hit
BATCH = 500  # candidates read from the store at a time
# More groups narrow little more; each costs the index a posting list to intersect.
MAX_GROUPS = 3
MAX_PAIRS = 16  # pairs of inflected forms one group may hold
_SINCE = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


@dataclass(frozen=True)
class Example:
    """One matching item with the hits the live matcher reported."""

    record: Record
    day: date
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Backtest:
    """What a rule matches in stored history. ``matched`` is newest first."""

    query: str
    since: date | None
    source: str | None
    candidates: int  # records the full-text index let through to the matcher
    matched: tuple[Candidate, ...]
    newest: tuple[Example, ...]

    @property
    def days(self) -> list[date]:
        return [c.day for c in self.matched]


@dataclass(frozen=True)
class WeekCount:
    year: int  # ISO year
    week: int  # ISO week
    count: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class Estimates:
    """How many digests a subscription to the rule would have received, per cadence."""

    immediate: int  # one per matching item (items that arrive in one poll would share one)
    daily: int  # days with a match
    weekly: int  # ISO weeks with a match


# --- searching ------------------------------------------------------------------------------


def search(
    store: Store,
    query: Query,
    *,
    since: date | None = None,
    source: str | None = None,
    newest: int = 5,
) -> Backtest:
    """Every stored record (current version) that ``query`` matches, newest first, with the
    hits of the ``newest`` most recent ones."""
    found = store.candidates(required_words(query.ast), source=source, since=since)
    # ``found`` is newest first, so sorting the indexes of the matches keeps that order.
    position = {(c.source, c.key): i for i, c in enumerate(found)}
    matched: list[int] = []
    for batch in _batches(found):
        inputs = store.match_inputs(batch[0].source, [c.key for c in batch])
        matched += [
            position[(c.source, c.key)]
            for c in batch
            if c.key in inputs and matches(query, Document.from_record(inputs[c.key]))
        ]
    matched.sort()
    in_order = [found[i] for i in matched]
    return Backtest(
        query=query.text,
        since=since,
        source=source,
        candidates=len(found),
        matched=tuple(in_order),
        newest=tuple(_examples(store, query, in_order[:newest])),
    )


def _examples(store: Store, query: Query, newest: Sequence[Candidate]) -> list[Example]:
    """The newest matches, in order, with their whole record and the hits ``match_document``
    reports: the only records decoded whole and the only hits worked out."""
    stored: dict[tuple[str, str], Record] = {}
    for group in _batches(newest):
        source = group[0].source
        found = store.current(source, [c.key for c in group])
        stored.update(((source, key), record) for key, record in found.items())
    out: list[Example] = []
    for c in newest:
        record = stored.get((c.source, c.key))
        # A poll may have changed the record since it was confirmed; then it has no example.
        hits = None if record is None else match_document(query, Document.from_record(record))
        if record is not None and hits is not None:
            out.append(Example(record, c.day, hits))
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


# --- figures --------------------------------------------------------------------------------


def weekly(days: Iterable[date]) -> list[WeekCount]:
    """Matches per ISO week, oldest first, from the first week with a match to the last, the
    empty weeks between included (a gap is information)."""
    counts: dict[date, int] = {}
    for d in days:
        monday = d - timedelta(days=d.weekday())
        counts[monday] = counts.get(monday, 0) + 1
    if not counts:
        return []
    out: list[WeekCount] = []
    monday, last = min(counts), max(counts)
    while monday <= last:
        year, week, _ = monday.isocalendar()
        out.append(WeekCount(year, week, counts.get(monday, 0)))
        monday += timedelta(weeks=1)
    return out


def estimates(days: Iterable[date]) -> Estimates:
    """Digests per cadence: immediate is one per matching item; daily and weekly one per day
    and per ISO week that has a match."""
    days = list(days)
    return Estimates(
        immediate=len(days),
        daily=len(set(days)),
        weekly=len({d.isocalendar()[:2] for d in days}),
    )


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


def snippets(record: Record, hits: Sequence[Hit], context: int = SNIPPET_CONTEXT) -> list[str]:
    """One line per field with a hit, in field order: the text around the field's first hit
    (``context`` characters either side) with every hit in it marked ``[like this]``."""
    out: list[str] = []
    for name, text in record.fields().items():
        spans = sorted((h.start, h.end) for h in hits if h.field == name)
        if spans:
            out.append(f"{name}: {snippet(text, spans, context)}")
    return out


def snippet(text: str, spans: Sequence[tuple[int, int]], context: int = SNIPPET_CONTEXT) -> str:
    """``text`` around the first of ``spans`` on one line, cut between words, with the spans
    inside it highlighted."""
    first_start, first_end = min(spans)
    start = max(0, first_start - context)
    end = min(len(text), first_end + context)
    # Cut at a space inside the window rather than through a word.
    if start > 0:
        space = text.find(" ", start, first_start)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", first_end, end)
        end = space if space >= 0 else end
    inside = [
        (max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start
    ]
    marked = " ".join(highlight_text(text[start:end], inside).split())
    return ("…" if start > 0 else "") + marked + ("…" if end < len(text) else "")


# --- reports --------------------------------------------------------------------------------


def report_text(result: Backtest, bar_width: int = 40) -> str:
    """The report ``watcher test-rule`` prints: stable, one fact per line."""
    where = f"source {result.source}" if result.source else "every source"
    when = f"since {result.since.isoformat()}" if result.since else "all dates"
    lines = [
        f"query: {result.query}",
        f"searched: {where}, {when}",
        f"candidates from the index: {result.candidates}",
        f"matches: {len(result.matched)}",
    ]
    if not result.matched:
        return "\n".join(lines) + "\n"
    weeks = weekly(result.days)
    peak = max(w.count for w in weeks)
    width = len(str(peak))
    lines += ["", "matches per ISO week:"]
    for w in weeks:
        bar = "#" * (round(w.count * bar_width / peak) if w.count else 0)
        lines.append(f"  {w.label}  {bar.ljust(bar_width)}  {w.count:>{width}}")
    est = estimates(result.days)
    width = len(str(est.immediate))
    lines += [
        "",
        "digests a subscription would have received:",
        f"  immediate  {est.immediate:>{width}}  (one per matching item)",
        f"  daily      {est.daily:>{width}}  (days with a match)",
        f"  weekly     {est.weekly:>{width}}  (ISO weeks with a match)",
        "",
        f"newest {len(result.newest)} of {len(result.matched)}:",
    ]
    for ex in result.newest:
        r = ex.record
        lines.append(f"  {ex.day.isoformat()}  {r.title}")
        lines.append(f"      {r.source} {r.key}  {r.url}")
        lines += [f"      {s}" for s in snippets(r, ex.hits)]
    return "\n".join(lines) + "\n"


def report_json(result: Backtest) -> dict[str, Any]:
    """The same report as plain JSON values, for machines."""
    est = estimates(result.days)
    return {
        "query": result.query,
        "source": result.source,
        "since": result.since.isoformat() if result.since else None,
        "candidates": result.candidates,
        "matches": len(result.matched),
        "weeks": [{"week": w.label, "count": w.count} for w in weekly(result.days)],
        "digests": {"immediate": est.immediate, "daily": est.daily, "weekly": est.weekly},
        "matched": [
            {"source": c.source, "key": c.key, "day": c.day.isoformat()} for c in result.matched
        ],
        "newest": [
            {
                "source": ex.record.source,
                "key": ex.record.key,
                "day": ex.day.isoformat(),
                "title": ex.record.title,
                "url": ex.record.url,
                "hits": [
                    {"field": h.field, "start": h.start, "end": h.end, "term": h.term}
                    for h in ex.hits
                ],
                "snippets": snippets(ex.record, ex.hits),
            }
            for ex in result.newest
        ],
    }
