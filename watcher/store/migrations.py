"""Schema migrations: an ordered list of versioned steps, applied by ``migrate`` on every start.

Each step is a frozen module in ``history`` (``v1`` the initial schema, ``v2`` the search index,
``v3`` SQLite's covering index for it, ``v4`` one item model for every source, ``v5`` source
health, ``v6`` the outbox) that turns the previous version into its own. Every database takes
the same path: a new one runs every step in order from nothing, an existing one the steps it
lacks, so what ``schema.py`` describes is always what the steps build (tested in
``tests/test_migrations.py``, as is upgrading from every earlier version with rows in it). Each
step runs in its own transaction and is recorded by version in ``schema_migrations``, which
``migrate`` creates first. To change the schema, see
``history``.

Several processes may migrate at once: on PostgreSQL every step holds a transaction-level advisory
lock and re-reads the applied versions under it; on SQLite the store begins write transactions
with ``BEGIN IMMEDIATE``, which serialises them the same way. Either way a step is applied once,
and a process that waited finds it done. What a migration does to rows is left to the migration;
this module only orders and records them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, inspect, select, text

from watcher.store.history import v1, v2, v3, v4, v5, v6

logger = logging.getLogger(__name__)

# Any constant will do; it only has to be the same in every replica ("watc" in ASCII).
_PG_LOCK_KEY = 0x77617463

# The one table every version has, as version 1 created it.
_VERSIONS = v1.schema_migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, v1.NAME, v1.apply),
    Migration(2, v2.NAME, v2.apply),
    Migration(3, v3.NAME, v3.apply),
    Migration(4, v4.NAME, v4.apply),
    Migration(5, v5.NAME, v5.apply),
    Migration(6, v6.NAME, v6.apply),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version


def migrate(engine: Engine, upto: int | None = None) -> list[int]:
    """Bring the database to the latest schema (to version ``upto`` if given: tests build older
    databases with it). Returns the versions applied by this call."""
    with engine.begin() as conn:
        _lock(conn)
        if applied(conn) is None:
            _VERSIONS.create(conn)
            logger.info("event=store_created")
    done: list[int] = []
    for migration in MIGRATIONS:
        if upto is not None and migration.version > upto:
            break
        with engine.begin() as conn:
            _lock(conn)
            if migration.version in (applied(conn) or ()):
                continue
            migration.apply(conn)
            _record(conn, migration)
        logger.info("event=store_migrated version=%d name=%s", migration.version, migration.name)
        done.append(migration.version)
    return done


def applied(conn: Connection) -> set[int] | None:
    """The versions applied to the database; None if it has no ``schema_migrations`` (a new
    database). Reads only."""
    if not inspect(conn).has_table(_VERSIONS.name):
        return None
    return set(conn.execute(select(_VERSIONS.c.version)).scalars())


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _record(conn: Connection, migration: Migration) -> None:
    conn.execute(
        insert(_VERSIONS),
        {"version": migration.version, "name": migration.name, "applied_at": datetime.now(UTC)},
    )
