"""What ``watcher test-rule`` prints for a ``backtest.Backtest``: the per-week histogram of
alerts, the digests per cadence, snippets of the newest alerted items, the ``backfill`` hint
for an empty window, and the text and JSON reports. Pure: values in, values out.

Both reports are stable (docs/backtest.md shows them): one fact per line in the text, the same
facts under fixed keys in the JSON.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from watcher.backtest import Backtest
from watcher.diff import LifeEvent
from watcher.model import Hit, Record
from watcher.text import highlight_text

SNIPPET_CONTEXT = 80  # characters either side of a hit
# How far back the hint's backfill goes when no --since was given: a quarter is enough history
# to judge a rule, and a backfill of it takes minutes.
BACKFILL_DAYS = 90


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

    immediate: int  # one per alert (alerts that arrive in one poll would share one)
    daily: int  # days with an alert
    weekly: int  # ISO weeks with an alert


# --- figures --------------------------------------------------------------------------------


def weekly(days: Iterable[date]) -> list[WeekCount]:
    """Alerts per ISO week (one day per alert), oldest first, from the first week with an
    alert to the last, the empty weeks between included (a gap is information)."""
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
    """Digests per cadence from one day per alert: immediate is one per alert; daily and
    weekly one per day and per ISO week that has an alert."""
    days = list(days)
    return Estimates(
        immediate=len(days),
        daily=len(set(days)),
        weekly=len({d.isocalendar()[:2] for d in days}),
    )


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


# --- an empty window ------------------------------------------------------------------------


def backfill_commands(result: Backtest, today: date, config: str | None = None) -> list[str]:
    """When the searched sources hold nothing in the window (``Backtest.empty``): the
    ``watcher backfill`` commands that would fill it, one per searched source (one for every
    source when all were searched), from ``since`` or else ``BACKFILL_DAYS`` before
    ``today``, with ``--config`` when one was given. Otherwise none."""
    if not result.empty:
        return []
    since = min(result.since, today) if result.since else today - timedelta(days=BACKFILL_DAYS)
    command = ["watcher", *(["--config", config] if config else []), "backfill"]
    command += ["--since", since.isoformat()]
    if result.sources is None:
        return [shlex.join(command)]
    return [shlex.join([*command, "--source", source]) for source in result.sources]


def empty_note(result: Backtest) -> str:
    """What the store holds for the searched sources, said when the window is empty."""
    of = "" if result.sources is None else f" of {_where(result)}"
    stored = result.stored
    if stored is None or stored.last_day is None:
        return f"the store holds no item{of} yet"
    since = result.since.isoformat() if result.since else ""
    return (
        f"the store holds no item{of} from {since} on; "
        f"the newest is from {stored.last_day.isoformat()}"
    )


# --- reports --------------------------------------------------------------------------------


def report_text(result: Backtest, backfill: Sequence[str] = (), bar_width: int = 40) -> str:
    """The report ``watcher test-rule`` prints: stable, one fact per line. ``backfill`` are
    the commands ``backfill_commands`` gave, shown with the note on an empty window."""
    when = f"since {result.since.isoformat()}" if result.since else "all dates"
    lines = [f"query: {result.query}"]
    if result.rule is not None:
        lines.append(f"rule: {result.rule}")
    lines += [
        f"events: {', '.join(e.value for e in result.events)}",
        f"searched: {_where(result)}, {when}",
        f"candidates from the index: {result.candidates}",
        f"items matched: {len(result.matched)}",
        f"items alerted: {len(result.alerted)}",
        f"alerts: {result.alerts}",
    ]
    if result.empty:
        lines += ["", empty_note(result)]
        if backfill:
            lines += ["to fill it, run:", *(f"  {command}" for command in backfill)]
    if not result.alerted:
        return "\n".join(lines) + "\n"
    days = result.alert_days
    weeks = weekly(days)
    peak = max(w.count for w in weeks)
    width = len(str(peak))
    lines += ["", "alerts per ISO week:"]
    for w in weeks:
        bar = "#" * (round(w.count * bar_width / peak) if w.count else 0)
        lines.append(f"  {w.label}  {bar.ljust(bar_width)}  {w.count:>{width}}")
    est = estimates(days)
    width = len(str(est.immediate))
    lines += [
        "",
        "digests a subscription would have received:",
        f"  immediate  {est.immediate:>{width}}  (one per alert)",
        f"  daily      {est.daily:>{width}}  (days with an alert)",
        f"  weekly     {est.weekly:>{width}}  (ISO weeks with an alert)",
        "",
        f"newest {len(result.newest)} of {len(result.alerted)}:",
    ]
    for ex in result.newest:
        r = ex.record
        lines.append(f"  {ex.day.isoformat()}  {r.title}")
        lines.append(f"      {_events(ex.events)}")
        lines.append(f"      {r.source} {r.key}  {r.url}")
        lines += [f"      {s}" for s in snippets(r, ex.hits)]
    return "\n".join(lines) + "\n"


def report_json(result: Backtest, backfill: Sequence[str] = ()) -> dict[str, Any]:
    """The same report as plain JSON values, for machines."""
    days = result.alert_days
    est = estimates(days)
    stored = result.stored
    return {
        "query": result.query,
        "rule": result.rule,
        "events": [e.value for e in result.events],
        "sources": None if result.sources is None else list(result.sources),
        "since": _iso(result.since),
        "candidates": result.candidates,
        "matches": len(result.matched),
        "items": len(result.alerted),
        "alerts": result.alerts,
        "weeks": [{"week": w.label, "count": w.count} for w in weekly(days)],
        "digests": {"immediate": est.immediate, "daily": est.daily, "weekly": est.weekly},
        "matched": [
            {"source": c.source, "key": c.key, "day": c.day.isoformat()} for c in result.matched
        ],
        "alerted": [
            {"source": a.source, "key": a.key, "day": a.day.isoformat(), "events": _json(a.events)}
            for a in result.alerted
        ],
        "newest": [
            {
                "source": ex.record.source,
                "key": ex.record.key,
                "day": ex.day.isoformat(),
                "title": ex.record.title,
                "url": ex.record.url,
                "events": _json(ex.events),
                "hits": [
                    {"field": h.field, "start": h.start, "end": h.end, "term": h.term}
                    for h in ex.hits
                ],
                "snippets": snippets(ex.record, ex.hits),
            }
            for ex in result.newest
        ],
        "stored": None
        if stored is None
        else {
            "count": stored.count,
            "first_day": _iso(stored.first_day),
            "last_day": _iso(stored.last_day),
        },
        "empty": result.empty,
        "backfill": list(backfill),
    }


def _where(result: Backtest) -> str:
    if result.sources is None:
        return "every source"
    if not result.sources:
        return "no source"
    return ("source " if len(result.sources) == 1 else "sources ") + ", ".join(result.sources)


def _events(events: Iterable[LifeEvent]) -> str:
    return ", ".join(f"{e.type.value} {e.day.isoformat()}" for e in events)


def _json(events: Iterable[LifeEvent]) -> list[dict[str, str]]:
    return [{"type": e.type.value, "day": e.day.isoformat()} for e in events]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
