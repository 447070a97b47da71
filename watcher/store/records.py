"""Writing records: their versions, the current version of each item, and its search index row.

One function, ``write``, used by both commits (a poll's and a backfill's) inside their
transaction, so the three always agree. What else a commit writes (events, matches, ledger,
source state) is left to ``sql``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from watcher.model import Record
from watcher.store import fulltext, queries
from watcher.store.schema import record, record_version


def write(
    conn: Connection,
    records: Sequence[tuple[Record, str]],
    also_versions: Iterable[Record],
    at: datetime,
) -> int:
    """Store ``records`` (record, listed fingerprint) as seen at ``at``, and every version in
    ``also_versions`` (the records events show); how many versions were new."""
    new_versions = queries.insert_new(
        conn,
        record_version,
        _version_rows([*(r for r, _listed in records), *also_versions], at),
        ("source", "key", "fingerprint"),
    )
    fulltext.update(conn, _upsert_current(conn, records, at))
    return new_versions


def _version_rows(records: Iterable[Record], at: datetime) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        fingerprint = r.fingerprint
        rows.setdefault(
            (r.source, r.key, fingerprint),
            {
                "source": r.source,
                "key": r.key,
                "fingerprint": fingerprint,
                "data": queries.record_json(r),
                "seen_at": at,
            },
        )
    return list(rows.values())


def _upsert_current(
    conn: Connection, records: Sequence[tuple[Record, str]], at: datetime
) -> list[tuple[Record, str]]:
    """Make each record the current version of its item (unless a later poll already did);
    the records offered, one per item, with their fingerprints."""
    latest: dict[tuple[str, str], tuple[Record, str]] = {}
    for r, listed in records:
        latest[(r.source, r.key)] = (r, listed)  # a record listed twice: the later one wins
    if not latest:
        return []
    ins = queries.dialect_insert(conn, record)
    new = ins.excluded
    stmt = ins.on_conflict_do_update(
        index_elements=[record.c.source, record.c.key],
        set_={
            "kind": new.kind,
            "fingerprint": new.fingerprint,
            "listed_fingerprint": new.listed_fingerprint,
            "data": new.data,
            "last_seen": new.last_seen,
        },
        # An older poll committed late must not roll the current version back.
        where=record.c.last_seen <= new.last_seen,
    )
    offered = [(r, listed, r.fingerprint) for r, listed in latest.values()]
    conn.execute(
        stmt,
        [
            {
                "source": r.source,
                "key": r.key,
                "kind": r.kind,
                "fingerprint": fingerprint,
                "listed_fingerprint": listed,
                "data": queries.record_json(r),
                "first_seen": at,
                "last_seen": at,
            }
            for r, listed, fingerprint in offered
        ],
    )
    return [(r, fingerprint) for r, _listed, fingerprint in offered]
