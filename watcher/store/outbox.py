"""The outbox's statements, on an open transaction: claiming ledger rows into a delivery with
its rendered message, handing due rows to one sender at a time, and recording how each
attempt went. ``SqlStore`` wraps each in a transaction and translates errors.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update

from watcher.errors import StoreError
from watcher.store import queries
from watcher.store.base import Delivery, OutboxState, Outgoing
from watcher.store.schema import delivery, event, ledger

_PENDING = OutboxState.PENDING.value


class NothingClaimedError(Exception):
    """Raised inside ``create``'s transaction to roll it back."""


def create(
    conn: Connection,
    subscription_id: str,
    key: str,
    ledger_ids: Sequence[int],
    period_end: datetime,
    now: datetime,
    outgoing: Outgoing | None,
) -> Delivery:
    values: dict[str, Any] = {
        "subscription_id": subscription_id,
        "idempotency_key": key,
        "period_end": period_end,
        "created": now,
        "attempts": 0,
        "parts_sent": 0,
    }
    if outgoing is None:
        values |= {"state": OutboxState.SENT.value, "sent": now}
    else:
        values |= {
            "state": _PENDING,
            "next_attempt": now,
            "channel": outgoing.channel,
            "target": json.dumps(list(outgoing.target)),
            "format": outgoing.format,
            "payload": outgoing.payload,
            "items": outgoing.items,
        }
    ins = (
        queries.dialect_insert(conn, delivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    new_id = conn.execute(ins.returning(delivery.c.id)).scalar()
    if new_id is None:  # a delivery with this key exists: it is returned unchanged
        found = by_key(conn, key)
        if found is None:
            raise NothingClaimedError
        return found
    wanted = sorted(set(ledger_ids))
    if _claim(conn, new_id, subscription_id, wanted) != len(wanted):
        # Some rows went to another replica's delivery: rendering these would say them twice.
        raise NothingClaimedError
    return of_values(new_id, values)


def claim_due(
    conn: Connection,
    holder: str,
    now: datetime,
    limit: int,
    due_by: datetime,
    attempted_before: datetime | None,
    claim_for: timedelta,
) -> list[Delivery]:
    d = delivery.c
    fresh = (
        or_(d.last_attempt.is_(None), d.last_attempt < attempted_before)
        if attempted_before is not None
        else d.id.is_not(None)
    )
    # PostgreSQL: the SELECT locks the rows it hands out and passes over rows another sender
    # has locked, so two senders never wait for or share one. SQLite ignores FOR UPDATE; the
    # store's write transaction (BEGIN IMMEDIATE) makes the two statements one step.
    ids = (
        conn.execute(
            select(d.id)
            .where(
                d.state == _PENDING,
                d.next_attempt <= due_by,
                or_(d.claimed_until.is_(None), d.claimed_until <= now),
                fresh,
            )
            .order_by(d.next_attempt, d.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    rows = conn.execute(
        update(delivery)
        .where(
            d.id.in_(ids),
            d.state == _PENDING,
            or_(d.claimed_until.is_(None), d.claimed_until <= now),
        )
        .values(claimed_by=holder, claimed_until=now + claim_for)
        .returning(*delivery.c)
    ).all()
    out = [of(row) for row in rows]
    return sorted(out, key=lambda x: (x.next_attempt or now, x.id))


def mark_sent(conn: Connection, delivery_id: int, at: datetime) -> None:
    _finish(
        conn,
        delivery_id,
        state=OutboxState.SENT.value,
        sent=at,
        last_attempt=at,
        attempts=delivery.c.attempts + 1,
    )


def mark_sent_many(conn: Connection, ids: Collection[int], at: datetime) -> None:
    for chunk in queries.chunks(sorted(set(ids))):
        conn.execute(
            update(delivery)
            .where(delivery.c.id.in_(chunk), delivery.c.state == _PENDING)
            .values(
                state=OutboxState.SENT.value,
                sent=at,
                last_attempt=at,
                attempts=delivery.c.attempts + 1,
                claimed_by=None,
                claimed_until=None,
            )
        )


def renew(
    conn: Connection, ids: Collection[int], holder: str, now: datetime, claim_for: timedelta
) -> set[int]:
    kept: set[int] = set()
    for chunk in queries.chunks(sorted(set(ids))):
        rows = conn.execute(
            update(delivery)
            .where(
                delivery.c.id.in_(chunk),
                delivery.c.state == _PENDING,
                delivery.c.claimed_by == holder,
            )
            .values(claimed_until=now + claim_for)
            .returning(delivery.c.id)
        )
        kept.update(rows.scalars().all())
    return kept


def mark_failed(
    conn: Connection,
    delivery_id: int,
    error: str,
    at: datetime,
    next_attempt: datetime,
    parts_sent: int,
) -> None:
    _finish(
        conn,
        delivery_id,
        attempts=delivery.c.attempts + 1,
        last_error=error,
        last_attempt=at,
        next_attempt=next_attempt,
        parts_sent=delivery.c.parts_sent + parts_sent,
    )


def mark_dead(
    conn: Connection, delivery_id: int, error: str, at: datetime, parts_sent: int
) -> None:
    _finish(
        conn,
        delivery_id,
        state=OutboxState.DEAD.value,
        attempts=delivery.c.attempts + 1,
        last_error=error,
        last_attempt=at,
        next_attempt=None,
        parts_sent=delivery.c.parts_sent + parts_sent,
    )


def defer(conn: Connection, delivery_id: int, until: datetime, at: datetime) -> None:
    # ``last_attempt`` too: a pass that retries everything must not pick it up again.
    _finish(conn, delivery_id, next_attempt=until, last_attempt=at)


def _finish(conn: Connection, delivery_id: int, **values: Any) -> None:
    """Record an outcome on a pending row and release its claim; a row no longer pending
    (another sender finished it after our claim lapsed) is left as it is."""
    result = conn.execute(
        update(delivery)
        .where(delivery.c.id == delivery_id, delivery.c.state == _PENDING)
        .values(claimed_by=None, claimed_until=None, **values)
    )
    if result.rowcount == 0:
        require(conn, delivery_id)


def listing(
    conn: Connection,
    state: OutboxState | None,
    channel: str | None,
    subscription_id: str | None,
    limit: int,
) -> list[Delivery]:
    d = delivery.c
    where: list[ColumnElement[bool]] = [d.channel.is_not(None)]  # rows with a message
    if state is not None:
        where.append(d.state == state.value)
    if channel is not None:
        where.append(d.channel == channel)
    if subscription_id is not None:
        where.append(d.subscription_id == subscription_id)
    rows = conn.execute(
        select(delivery).where(and_(*where)).order_by(d.created.desc(), d.id.desc()).limit(limit)
    )
    return [of(row) for row in rows]


def revive(conn: Connection, ids: Collection[int] | None, now: datetime) -> list[int]:
    d = delivery.c
    stmt = update(delivery).where(d.state == OutboxState.DEAD.value)
    if ids is not None:
        stmt = stmt.where(d.id.in_(sorted(set(ids))))
    rows = conn.execute(
        stmt.values(
            state=_PENDING,
            attempts=0,
            next_attempt=now,
            claimed_by=None,
            claimed_until=None,
            # Fresh: "failing for too long" counts from here, not from the first failure.
            created=now,
        ).returning(d.id)
    )
    return sorted(rows.scalars().all())


def drop(conn: Connection, delivery_id: int, at: datetime) -> bool:
    d = delivery.c
    result = conn.execute(
        update(delivery)
        .where(d.id == delivery_id, d.state.in_([_PENDING, OutboxState.DEAD.value]))
        .values(state=OutboxState.DROPPED.value, next_attempt=None, last_attempt=at)
    )
    return bool(result.rowcount)


def counts(conn: Connection) -> dict[OutboxState, int]:
    d = delivery.c
    rows = conn.execute(
        select(d.state, func.count()).where(d.channel.is_not(None)).group_by(d.state)
    )
    out = dict.fromkeys(OutboxState, 0)
    for state, n in rows:
        out[OutboxState(state)] = n
    return out


def next_due(conn: Connection) -> datetime | None:
    d = delivery.c
    found: datetime | None = conn.execute(
        select(func.min(d.next_attempt)).where(d.state == _PENDING)
    ).scalar()
    return found


def first_reports(
    conn: Connection, subscription_id: str, items: Collection[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    wanted = set(items)
    if not wanted:
        return out
    d, lg, ev = delivery.c, ledger.c, event.c
    for chunk in queries.chunks(sorted({key for _, key in wanted})):
        rows = conn.execute(
            select(ev.source, ev.key, d.idempotency_key)
            .select_from(ledger.join(event, ev.id == lg.event_id).join(delivery))
            .where(
                lg.subscription_id == subscription_id,
                ev.key.in_(chunk),
                d.state == OutboxState.SENT.value,
                d.channel.is_not(None),
            )
            .order_by(d.id)
        )
        for source, key, idem in rows:
            if (source, key) in wanted:
                out.setdefault((source, key), idem)
    return out


def by_key(conn: Connection, key: str) -> Delivery | None:
    row = conn.execute(select(delivery).where(delivery.c.idempotency_key == key)).first()
    return of(row) if row else None


def by_id(conn: Connection, delivery_id: int) -> Delivery | None:
    row = conn.execute(select(delivery).where(delivery.c.id == delivery_id)).first()
    return of(row) if row else None


def require(conn: Connection, delivery_id: int) -> None:
    if by_id(conn, delivery_id) is None:
        raise StoreError(f"no delivery with id {delivery_id}")


def of_values(delivery_id: int, values: dict[str, Any]) -> Delivery:
    """The row just inserted with ``values``, without reading it back."""
    return of(
        SimpleNamespace(**({c.name: None for c in delivery.c} | values | {"id": delivery_id}))
    )


def of(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        idempotency_key=row.idempotency_key,
        period_end=row.period_end,
        created=row.created,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt=row.next_attempt,
        sent=row.sent,
        state=OutboxState(row.state),
        channel=row.channel,
        target=tuple(json.loads(row.target)) if row.target else (),
        format=row.format,
        payload=row.payload,
        parts_sent=row.parts_sent,
        last_attempt=row.last_attempt,
        claimed_by=row.claimed_by,
        items=row.items or 0,
    )


def _claim(
    conn: Connection, delivery_id: int, subscription_id: str, ledger_ids: Sequence[int]
) -> int:
    """Point the still-unclaimed rows among ``ledger_ids`` at the delivery; how many."""
    claimed = 0
    for chunk in queries.chunks(ledger_ids):
        unclaimed = and_(
            ledger.c.id.in_(chunk),
            ledger.c.subscription_id == subscription_id,
            ledger.c.delivery_id.is_(None),
        )
        # On PostgreSQL, lock in id order and wait for a replica claiming the same rows, so
        # of two claims one takes them all and the other none (skipping locked rows could
        # leave each with a part, and both would roll back); SQLite's write lock serialises.
        ids = (
            conn.execute(
                select(ledger.c.id).where(unclaimed).order_by(ledger.c.id).with_for_update()
            )
            .scalars()
            .all()
        )
        if ids:
            result = conn.execute(
                update(ledger)
                .where(ledger.c.id.in_(ids), ledger.c.delivery_id.is_(None))
                .values(delivery_id=delivery_id)
            )
            claimed += result.rowcount
    return claimed
