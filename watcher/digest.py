"""When a subscription's digest is due, and what goes into it.

Pure decisions: no I/O and no clock (``now`` is always passed in). The pipeline asks the store
for pending ledger rows created before ``period_end(...)``, hands them to ``build`` and claims
them under ``idempotency_key(...)``; rendering and sending are left to ``render`` and
``channels``.

Cadence times are local wall-clock times in the configured zone, so ``daily 07:30`` in
Europe/London is 07:30 BST in summer and 07:30 GMT in winter. A local time that does not exist
(the hour skipped when clocks go forward) is read with the offset in force before the change, so
it lands just after the gap (01:30 on the spring-forward day is 02:30 BST); a local time that
occurs twice (clocks going back) is its first occurrence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from watcher.config import Cadence, Subscription
from watcher.kinds import kind_of
from watcher.model import Digest, DigestItem, Event, EventType, Hit, QuestionBody

# The order a reader wants: answers (and anything new) first, then what changed about earlier
# ones, then questions still waiting.
_TYPE_ORDER = {
    EventType.ANSWERED: 0,
    EventType.CORRECTED: 1,
    EventType.HOLDING: 2,
    EventType.TABLED: 3,
    EventType.WITHDRAWN: 4,
    EventType.PUBLISHED: 0,
    EventType.UPDATED: 1,
}


def period_end(cadence: Cadence, tz: ZoneInfo, now: datetime) -> datetime:
    """The cutoff (UTC) of the period that has most recently closed at ``now``.

    ``immediate``: ``now`` itself. ``daily HH:MM``: the latest HH:MM local time at or before
    ``now``. ``weekly DAY HH:MM``: the latest such weekday and time. Items created before the
    cutoff belong to the digest; an item arriving at 10:00 waits for tomorrow's 07:30.
    """
    now = _utc(now)
    if cadence.kind == "immediate" or cadence.at is None:
        return now
    today = now.astimezone(tz).date()
    # Eight days back covers a weekly cadence whose slot today is still ahead of ``now``.
    for back in range(8):
        day = today - timedelta(days=back)
        if _wanted(cadence, day):
            instant = _instant(day, cadence.at, tz)
            if instant <= now:
                return instant
    raise AssertionError(f"no {cadence} slot in the eight days before {now}")  # unreachable


def next_run(cadence: Cadence, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The next scheduled instant (UTC) strictly after ``now``; None for ``immediate``."""
    now = _utc(now)
    if cadence.kind == "immediate" or cadence.at is None:
        return None
    today = now.astimezone(tz).date()
    for ahead in range(9):
        day = today + timedelta(days=ahead)
        if _wanted(cadence, day):
            instant = _instant(day, cadence.at, tz)
            if instant > now:
                return instant
    raise AssertionError(f"no {cadence} slot in the nine days after {now}")  # unreachable


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return now.astimezone(UTC)


def _wanted(cadence: Cadence, day: date) -> bool:
    return cadence.kind == "daily" or day.weekday() == cadence.weekday


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0: a skipped time uses the pre-transition offset, a repeated time its first
    # occurrence. Comparing aware datetimes that share a tzinfo compares wall times, so
    # everything is converted to UTC before any comparison.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


class Pending(Protocol):
    """One ledger row as ``build`` reads it: the store's ``PendingItem``, seen without
    importing the store (this module does no I/O)."""

    @property
    def event(self) -> Event: ...

    @property
    def hits(self) -> Mapping[str, tuple[Hit, ...]]: ...


def build(subscription: Subscription, items: Sequence[Pending], period_end: datetime) -> Digest:
    """One subscription's digest: one ``DigestItem`` per event.

    An event that several of the subscription's rules matched appears once, naming each of those
    rules (in the subscription's order) with the union of their hits, sorted and deduplicated.
    Hits of rules that are not in the subscription do not count; an item that only such rules
    matched (a rule since removed from the subscription) is left out. The caller should still
    claim every pending row it passed in, and should not send a digest with no items.

    Items are ordered by event type (answered, corrected, holding, tabled, withdrawn), then by
    the date of the event (answered / corrected / holding-answer / tabled date, oldest first),
    then by source and key. Questions answered together are one item (``_answered_together``).
    """
    wanted = subscription.rules
    events: dict[tuple[str, str, str, str], Event] = {}
    hits_by_event: dict[tuple[str, str, str, str], dict[str, set[Hit]]] = {}
    for item in items:
        identity = item.event.identity
        events.setdefault(identity, item.event)
        by_rule = hits_by_event.setdefault(identity, {})
        for rule_id, hits in item.hits.items():
            if rule_id in wanted:
                by_rule.setdefault(rule_id, set()).update(hits)
    digest_items = [
        DigestItem(
            event=events[identity],
            rule_ids=tuple(r for r in wanted if r in by_rule),
            hits=tuple(sorted(_union(by_rule.values()))),
        )
        for identity, by_rule in hits_by_event.items()
        if by_rule
    ]
    digest_items.sort(key=_order)
    return Digest(
        subscription_id=subscription.id,
        items=tuple(_answered_together(digest_items, wanted)),
        period_end=_utc(period_end),
        cadence=str(subscription.digest),
    )


def _answered_together(items: list[DigestItem], wanted: Sequence[str]) -> list[DigestItem]:
    """Questions answered together (each names the others among its grouped questions, and
    their answers are the same words) become one item: the first in digest order, naming the
    others in ``together``, with every rule that matched any of them."""
    out: list[DigestItem] = []
    lead_of: dict[tuple[str, str, str, str], int] = {}  # (source, type, uin, answer) -> out index
    for item in items:
        key = _group_key(item.event)
        lead = None if key is None else _find_lead(lead_of, item.event, key)
        if lead is None:
            if key is not None:
                lead_of[key] = len(out)
            out.append(item)
            continue
        if key is not None:
            lead_of[key] = lead  # a third question may name this one and not the first
        first = out[lead]
        rules = set(first.rule_ids) | set(item.rule_ids)
        # The answer is the same text, so its hits stand for both; a title's or question's
        # hits belong to the question they were found in.
        answer_hits = {h for h in item.hits if h.field == "answer"}
        out[lead] = DigestItem(
            first.event,
            tuple(r for r in wanted if r in rules),
            tuple(sorted(set(first.hits) | answer_hits)),
            (*first.together, item.event),
        )
    return out


def _group_key(event: Event) -> tuple[str, str, str, str] | None:
    body = event.record.body
    answer = event.record.text("answer")
    if not isinstance(body, QuestionBody) or not body.grouped or answer is None or not body.uin:
        return None
    return (event.record.source, event.type.value, body.uin, " ".join(answer.plain.split()))


def _find_lead(
    lead_of: dict[tuple[str, str, str, str], int], event: Event, key: tuple[str, str, str, str]
) -> int | None:
    body = event.record.body
    assert isinstance(body, QuestionBody)
    source, type_, _uin, answer = key
    for other in body.grouped:
        found = lead_of.get((source, type_, other.uin, answer))
        if found is not None:
            return found
    return None


def _union(sets: Iterable[set[Hit]]) -> set[Hit]:
    out: set[Hit] = set()
    for s in sets:
        out |= s
    return out


def event_date(event: Event) -> date | None:
    """The date the event happened, as the source gives it."""
    return kind_of(event.record.kind).event_day(event)


def _order(item: DigestItem) -> tuple[int, date, str, str]:
    event = item.event
    return (
        _TYPE_ORDER.get(event.type, len(_TYPE_ORDER)),
        event_date(event) or date.min,
        event.record.source,
        event.record.key,
    )


def idempotency_key(subscription_id: str, ledger_ids: Iterable[int]) -> str:
    """A deterministic key for one delivery: the same subscription and rows, in any order, give
    the same key. Hex only, so it can stand in a Message-ID or a file name."""
    rows = ",".join(str(i) for i in sorted(set(ledger_ids)))
    return hashlib.sha256(f"{subscription_id}\n{rows}".encode()).hexdigest()[:32]
