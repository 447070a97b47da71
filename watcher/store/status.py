"""A read-only look at a store's schema: what ``migrate`` would do, for a preflight.

Nothing is created or changed. SQLite: a missing file is a new store with every migration
pending, once its directory is one the store could create it in, as far as looking can tell (a
file system that refuses even root only says so when ``migrate`` tries); an existing file is
opened read-only through an engine of its own, not the store's (whose connections switch a file
to WAL), and as immutable when no WAL file says it is in use, so that not even SQLite's WAL files
appear. A ``file:`` URI is read through the store's engine, as its options say. PostgreSQL: a
read-only transaction; a database without ``schema_migrations`` has every migration pending.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from watcher.errors import StoreUnavailableError
from watcher.store import failures, migrations
from watcher.store.base import PendingMigration, SchemaStatus
from watcher.store.engine import sqlite_file


def schema_status(engine: Engine) -> SchemaStatus:
    """The schema of the store on ``engine``. Raises ``StoreUnavailableError`` if it cannot be
    reached or opened (for SQLite: the file, or the directory it would be created in),
    ``StoreError`` for other failures."""
    path = sqlite_file(engine.url)
    if path is not None:
        reason = failures.os_reason(path, probe=False, directories=True)
        if reason is not None:
            verb = "open" if path.exists() else "create"
            raise StoreUnavailableError(f"cannot {verb} the SQLite store {path}: {reason}")
        if not path.exists():
            return _status(exists=False, applied=set())
    reader = engine if path is None else _read_only_sqlite(path)
    try:
        with reader.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            applied = migrations.applied(conn)
    except SQLAlchemyError as exc:
        raise failures.translate(exc, "reading the schema", engine.url, probe=False) from exc
    finally:
        if reader is not engine:
            reader.dispose()
    return _status(exists=True, applied=applied or set())


def _read_only_sqlite(path: Path) -> Engine:
    uri = f"file:{quote(str(path))}?mode=ro"
    # Even a read-only connection creates the WAL files it cannot then remove. Without a WAL
    # file, no connection is using the database and the file holds all of it: read it as
    # immutable, which creates nothing (a writer starting meanwhile writes to a new WAL file,
    # not to this one). With one, the WAL files are there already.
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=NullPool,
    )


def _status(*, exists: bool, applied: set[int]) -> SchemaStatus:
    known = {m.version for m in migrations.MIGRATIONS}
    return SchemaStatus(
        exists=exists,
        applied=tuple(sorted(applied)),
        pending=tuple(
            PendingMigration(m.version, m.name)
            for m in migrations.MIGRATIONS
            if m.version not in applied
        ),
        unknown=tuple(sorted(applied - known)),
    )
