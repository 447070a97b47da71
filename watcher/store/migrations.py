"""Schema migrations: an ordered list of versioned steps, applied by ``migrate`` on every start.

A new database gets the current schema (``schema.metadata``) in one step and every known version
recorded, so ``schema.py`` is the one description of the tables. An existing database gets each
migration it lacks, in order, each in its own transaction, recorded by version. To change the
schema: edit ``schema.py`` and append a migration that alters an existing database to match.

Several processes may migrate at once: on PostgreSQL every step holds a transaction-level advisory
lock and re-reads the applied versions under it; on SQLite the store begins write transactions
with ``BEGIN IMMEDIATE``, which serialises them the same way. What a migration does to rows is
left to the migration; this module only orders and records them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, text

from watcher.store import fulltext, schema

logger = logging.getLogger(__name__)

# Any constant will do; it only has to be the same in every replica ("watc" in ASCII).
_PG_LOCK_KEY = 0x77617463


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def _search_index(conn: Connection) -> None:
    schema.record_words.create(conn, checkfirst=True)  # with its FTS5 table or GIN index
    indexed = fulltext.fill(conn)
    logger.info("event=search_index_filled records=%d", indexed)


def _lookup_index(conn: Connection) -> None:
    schema.LOOKUP_INDEX.create(conn, checkfirst=True)  # SQLite only (its ``ddl_if``)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _initial),
    Migration(2, "full-text search index", _search_index),
    Migration(3, "covering index for candidate lookups", _lookup_index),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version


def migrate(engine: Engine) -> list[int]:
    """Bring the database to the latest schema. Returns the versions applied by this call."""
    with engine.begin() as conn:
        _lock(conn)
        schema.schema_migrations.create(conn, checkfirst=True)
        if not _applied(conn):
            schema.metadata.create_all(conn)
            _record(conn, MIGRATIONS)
            logger.info("event=store_created version=%d", latest_version())
            return [m.version for m in MIGRATIONS]
    done: list[int] = []
    for migration in MIGRATIONS:
        with engine.begin() as conn:
            _lock(conn)
            if migration.version in _applied(conn):
                continue
            migration.apply(conn)
            _record(conn, (migration,))
        logger.info("event=store_migrated version=%d name=%s", migration.version, migration.name)
        done.append(migration.version)
    return done


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _applied(conn: Connection) -> set[int]:
    return set(conn.execute(select(schema.schema_migrations.c.version)).scalars())


def _record(conn: Connection, migrations: tuple[Migration, ...]) -> None:
    now = datetime.now(UTC)
    conn.execute(
        insert(schema.schema_migrations),
        [{"version": m.version, "name": m.name, "applied_at": now} for m in migrations],
    )
