"""Engines for the two backends, from a store URL.

SQLite (the default, one file beside the data): building the engine touches nothing (``migrate``
creates the file's directory, with ``sqlite_directory``); every connection runs in WAL mode with
foreign keys on and a busy timeout, and write transactions begin with ``BEGIN IMMEDIATE`` so two
writers queue for the lock instead of failing half-way through (a deferred transaction that reads
and then writes cannot wait for the lock). Connections opened with ``READ_ONLY`` begin deferred,
so reads never wait for a writer. ``sqlite://`` (in memory, for tests and demos) is one database
for the whole process, used by one thread at a time.

PostgreSQL (for replicas): ``postgresql://`` URLs use the psycopg 3 driver; connections are
checked before use, since a replica outlives database restarts.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool

from watcher.errors import StoreError, StoreUnavailableError

# An execution option: ``conn.execution_options(**READ_ONLY)`` before ``conn.begin()``.
READ_ONLY = {"watcher_read_only": True}

SQLITE_BUSY_TIMEOUT_MS = 15_000


def store_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite(parsed)
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            return create_engine(parsed, pool_pre_ping=True)
    except ArgumentError as exc:  # also an unknown driver
        raise StoreError(f"invalid store URL {url!r}: {exc}") from exc
    raise StoreError(f"unsupported store URL {url!r} (use sqlite:///path or postgresql://...)")


def _sqlite(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if in_memory:
        # One connection, handed to one thread at a time: a second connection would open a
        # second, empty database.
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            connect_args={"check_same_thread": False},
        )
    else:
        engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it never begins for SELECT or DDL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The timeout first: switching a new file to WAL needs the lock.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                _enable_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get("watcher_read_only"):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sqlite_file(url: URL) -> Path | None:
    """The file of an SQLite store, as SQLite opens it (relative to the working directory);
    None for any other store, an in-memory one, or a ``file:`` URI."""
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or url.query.get("mode") == "memory"
    ):
        return None
    return Path(os.path.abspath(database))


def sqlite_directory(url: URL) -> None:
    """Create the directory of an SQLite store's file if it is missing (nothing for any other
    store). Raises ``StoreUnavailableError`` naming it and the OS's reason."""
    path = sqlite_file(url)
    if path is None:
        return
    directory = path.parent
    try:
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create directory {directory} for the SQLite store: {exc.strerror or exc}"
        ) from exc


def _enable_wal(cursor: Any) -> None:
    # Switching a new file to WAL can fail with "locked" at once, without waiting for the busy
    # timeout, while another connection is doing the same; it succeeds once that one is done.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
