"""Reusable statements and row conversions for ``sql.SqlStore``.

Values go into rows and come back out here: records as JSON text, hits as
``[[field, start, end, term], ...]``, events rebuilt from ``event`` joined to the two
``record_version`` rows they show. The transactions around these statements belong to ``sql``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Table, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from watcher.incidents import Kind, Notice
from watcher.model import (
    Event,
    EventType,
    Hit,
    Record,
    record_from_dict,
    record_from_json,
    record_to_json,
)
from watcher.store.base import PendingItem, PollHealth, SourceState, StoredNotice
from watcher.store.history import v4
from watcher.store.schema import (
    event,
    event_match,
    ledger,
    notice,
    record_version,
    source_state,
)

# Well under SQLite's limit on bound parameters, and keeps PostgreSQL statements small.
CHUNK = 500

T = TypeVar("T")
Identity = tuple[str, str, str, str]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def dialect_insert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say ON CONFLICT, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], unique: Sequence[str]
) -> int:
    """Insert ``rows``, skipping any that clash on ``unique``; how many were new."""
    if not rows:
        return 0
    stmt = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(unique))
    return len(conn.execute(stmt.returning(table.c.id), list(rows)).all())


# --- values <-> columns ---------------------------------------------------------------------


def record_json(r: Record) -> str:
    return record_to_json(r)


def record_of(data: str) -> Record:
    # Only a migration reads rows stored before version 4 (``history.v2`` indexes them with
    # today's code); every row is in today's shape once it has run.
    if '"texts":' not in data:
        return record_from_dict(v4.upgraded(json.loads(data)))
    return record_from_json(data)


def hits_json(hits: Iterable[Hit]) -> str:
    return json.dumps(
        [[h.field, h.start, h.end, h.term, *([h.via] if h.via else [])] for h in hits],
        ensure_ascii=False,
    )


def hits_of(data: str) -> tuple[Hit, ...]:
    return tuple(
        Hit(field=h[0], start=int(h[1]), end=int(h[2]), term=h[3], via=h[4] if len(h) > 4 else "")
        for h in json.loads(data)
    )


def state_of(row: Row[Any]) -> SourceState:
    return SourceState(
        source=row.source,
        last_poll=row.last_poll,
        last_ok=row.last_ok,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        error_count=row.error_count,
        cursor=json.loads(row.cursor) if row.cursor else None,
        items_listed=row.items_listed,
        items_new=row.items_new,
        parse_errors=row.parse_errors,
        last_new_at=row.last_new_at,
        first_poll=row.first_poll,
        failing_since=row.failing_since,
        incidents=incidents_of(row.incidents),
    )


def incidents_json(incidents: Mapping[Kind, datetime]) -> str:
    return json.dumps({str(k): v.isoformat() for k, v in sorted(incidents.items())})


def incidents_of(data: str | None) -> dict[Kind, datetime]:
    if not data:
        return {}
    return {Kind(k): datetime.fromisoformat(v) for k, v in json.loads(data).items()}


def notice_of(row: Row[Any]) -> StoredNotice:
    return StoredNotice(
        id=row.id,
        operator=row.operator,
        notice=Notice(
            source=row.source,
            kind=Kind(row.kind),
            opened=bool(row.opened),
            since=row.since,
            at=row.at,
            detail=row.detail,
        ),
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt=row.next_attempt,
        sent=row.sent,
    )


def notice_rows(health: PollHealth) -> list[dict[str, Any]]:
    return [
        {
            "source": n.source,
            "kind": str(n.kind),
            "opened": n.opened,
            "since": n.since,
            "at": n.at,
            "detail": n.detail,
            "operator": operator,
            "attempts": 0,
        }
        for operator, n in health.notices
    ]


# --- statements -------------------------------------------------------------------------------


def set_state(
    conn: Connection,
    source: str,
    at: datetime,
    error: str | None,
    cursor: Mapping[str, str] | None = None,
    health: PollHealth | None = None,
) -> None:
    """Record a poll that started at ``at``: failed with ``error``, or completed; and the
    source's new ``cursor`` if it gave one (else the stored one stays); and its ``health`` if
    given (else the stored one stays).

    A poll older than the one already recorded changes nothing, and recording the same failed
    poll twice counts it once, so that committing an outcome again is a no-op.
    """
    ins = dialect_insert(conn, source_state).values(
        source=source,
        last_poll=at,
        last_ok=None if error else at,
        last_error=error,
        last_error_at=at if error else None,
        error_count=1 if error else 0,
        cursor=None if cursor is None else json.dumps(dict(cursor), sort_keys=True),
        first_poll=at,
        **_health_values(at, health),
    )
    st = source_state.c
    new = ins.excluded
    if error is None:
        changes: dict[str, Any] = {
            "last_poll": new.last_poll,
            "last_ok": new.last_ok,
            "last_error": None,
            "error_count": 0,
        }
    else:
        same_failure = and_(st.last_poll == new.last_poll, st.last_error.is_not(None))
        changes = {
            "last_poll": new.last_poll,
            "last_error": new.last_error,
            "last_error_at": new.last_error_at,
            "error_count": case((same_failure, st.error_count), else_=st.error_count + 1),
        }
    if cursor is not None:
        changes["cursor"] = new.cursor
    changes["first_poll"] = func.coalesce(st.first_poll, new.first_poll)
    if health is not None:
        for name in ("items_listed", "items_new", "parse_errors", "failing_since", "incidents"):
            changes[name] = getattr(new, name)
        if health.new:
            changes["last_new_at"] = new.last_new_at
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[st.source],
            set_=changes,
            where=or_(st.last_poll.is_(None), st.last_poll <= new.last_poll),
        )
    )


def _health_values(at: datetime, health: PollHealth | None) -> dict[str, Any]:
    if health is None:
        return {}
    return {
        "items_listed": health.listed,
        "items_new": health.new,
        "parse_errors": health.parse_errors,
        "last_new_at": at if health.new else None,
        "failing_since": health.failing_since,
        "incidents": incidents_json(health.incidents),
    }


def event_ids(conn: Connection, identities: Iterable[Identity]) -> dict[Identity, int]:
    """The stored id of each of ``identities`` that exists."""
    wanted = set(identities)
    keys_by_source: dict[str, set[str]] = {}
    for source, key, _type, _fp in wanted:
        keys_by_source.setdefault(source, set()).add(key)
    found: dict[Identity, int] = {}
    for source, keys in keys_by_source.items():
        for chunk in chunks(sorted(keys)):
            rows = conn.execute(
                select(event.c.id, event.c.key, event.c.type, event.c.fingerprint).where(
                    event.c.source == source, event.c.key.in_(chunk)
                )
            )
            for row in rows:
                identity = (source, row.key, row.type, row.fingerprint)
                if identity in wanted:
                    found[identity] = row.id
    return found


def items(conn: Connection, where: ColumnElement[bool]) -> list[PendingItem]:
    """Ledger rows matching ``where``, oldest first, each with its event and every rule's hits."""
    version = record_version.alias("version")
    previous = record_version.alias("previous")
    query = (
        select(
            ledger.c.id,
            ledger.c.created,
            ledger.c.subscription_id,
            event.c.id.label("event_id"),
            event.c.type,
            event.c.replaces_holding,
            version.c.data,
            previous.c.data.label("previous_data"),
        )
        .select_from(
            ledger.join(event, ledger.c.event_id == event.c.id)
            .join(
                version,
                and_(
                    version.c.source == event.c.source,
                    version.c.key == event.c.key,
                    version.c.fingerprint == event.c.fingerprint,
                ),
            )
            .outerjoin(
                previous,
                and_(
                    previous.c.source == event.c.source,
                    previous.c.key == event.c.key,
                    previous.c.fingerprint == event.c.previous_fingerprint,
                ),
            )
        )
        .where(where)
        .order_by(ledger.c.created, ledger.c.id)
    )
    rows = conn.execute(query).all()
    hits = _hits_by_event(conn, [row.event_id for row in rows])
    # One event owed to many subscriptions is decoded once.
    events: dict[int, Event] = {}
    out = []
    for row in rows:
        found = events.get(row.event_id)
        if found is None:
            found = events[row.event_id] = Event(
                type=EventType(row.type),
                record=record_of(row.data),
                previous=record_of(row.previous_data) if row.previous_data else None,
                replaces_holding=bool(row.replaces_holding),
            )
        out.append(
            PendingItem(
                ledger_id=row.id,
                event=found,
                hits=hits.get(row.event_id, {}),
                created=row.created,
                subscription_id=row.subscription_id,
            )
        )
    return out


def _hits_by_event(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, tuple[Hit, ...]]]:
    out: dict[int, dict[str, tuple[Hit, ...]]] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = conn.execute(
            select(event_match.c.event_id, event_match.c.rule_id, event_match.c.hits)
            .where(event_match.c.event_id.in_(chunk))
            .order_by(event_match.c.event_id, event_match.c.rule_id)
        )
        for row in rows:
            out.setdefault(row.event_id, {})[row.rule_id] = hits_of(row.hits)
    return out


def notices(conn: Connection, where: ColumnElement[bool]) -> list[StoredNotice]:
    rows = conn.execute(select(notice).where(where).order_by(notice.c.at, notice.c.id))
    return [notice_of(row) for row in rows]
