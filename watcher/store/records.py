"""Writing records: their versions, the current version of each item, and its search index row.

One function, ``write``, used by both commits (a poll's and a backfill's) inside their
transaction, so the three always agree. What else a commit writes (events, matches, ledger,
source state) is left to ``sql``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    versions = _version_rows([*(r for r, _listed in records), *also_versions], at)
    new_versions = queries.insert_new(
        conn, record_version, list(versions.values()), ("source", "key", "fingerprint")
    )
    # Each record is encoded once: its current row stores the JSON its version row has.
    encoded = {identity: row["data"] for identity, row in versions.items()}
    fulltext.update(conn, _upsert_current(conn, records, at, encoded))
    return new_versions


Identity = tuple[str, str, str]  # source, key, fingerprint


def _version_rows(records: Iterable[Record], at: datetime) -> dict[Identity, dict[str, Any]]:
    rows: dict[Identity, dict[str, Any]] = {}
    for r in records:
        identity = (r.source, r.key, r.fingerprint)
        if identity not in rows:
            rows[identity] = {
                "source": r.source,
                "key": r.key,
                "fingerprint": r.fingerprint,
                "data": queries.record_json(r),
                "seen_at": at,
            }
    return rows


def _upsert_current(
    conn: Connection,
    records: Sequence[tuple[Record, str]],
    at: datetime,
    encoded: Mapping[Identity, str],
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
                "data": encoded[(r.source, r.key, fingerprint)],
                "first_seen": at,
                "last_seen": at,
            }
            for r, listed, fingerprint in offered
        ],
    )
    return [(r, fingerprint) for r, _listed, fingerprint in offered]
