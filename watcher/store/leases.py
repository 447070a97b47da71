"""Polling leases that end with the process holding them: what ``Store.lease`` stands on.

A lease is a lock that the database server or the kernel holds for the process that took it,
so it ends when that process ends, however it ends (SIGKILL, out of memory, a crash), rather
than at a time written in a row:

    PostgreSQL   a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection
                 of its own, opened for the poll and closed at release. The key is 64 bits of
                 BLAKE2b over the schema and the source id, so two deployments in one database
                 (schemas of their own) never contend. The server drops the lock with the
                 session: at once when the holder's process dies (its socket closes), within
                 about a minute when its machine or network does (TCP keepalives, set on that
                 connection).
    SQLite file  ``flock(LOCK_EX)`` on ``<database file>.leases/<source id>.lock``, kept open
                 for the poll; the kernel drops it when the process's descriptors close. Only
                 processes on one machine share an SQLite file, so a local lock is enough.
    in memory    an in-process lock: that database lives and dies with its process.

The row (``source_state.lease_holder``, and ``lease_until``, which holds the time the lease was
taken) only says who holds it, for messages and ``watcher status``; the lock alone decides.
It is written after the lock is taken and cleared before it is let go, so a row naming a holder
whose lock is free is what a dead holder left behind, and ``holder`` ignores it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from watcher.errors import StoreError, StoreUnavailableError
from watcher.store import failures, queries
from watcher.store.base import LeaseInfo
from watcher.store.engine import sqlite_file
from watcher.store.schema import source_state

log = logging.getLogger(__name__)

# Set on a PostgreSQL lease connection so the server notices a holder that vanished without
# closing its socket (a machine that lost power, a network that split) after ~30 + 3 × 10 s,
# rather than after the system's default two hours.
KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


class Locks(Protocol):
    """The locks of one store, one per source. Thread-safe. A store takes a source's lock at
    most once at a time: ``acquire`` is False while this store holds it too."""

    def acquire(self, source: str) -> bool:
        """Take the lock without waiting; False if anyone holds it."""
        ...

    def release(self, source: str) -> None:
        """Let go of the lock if this store holds it. Never raises."""
        ...

    def held(self, conn: Connection, source: str) -> bool:
        """Whether anyone (this store too) holds the lock; ``conn`` is open on the store."""
        ...


class Leases:
    """The leases of one store: its locks, and the rows that name their holders."""

    def __init__(self, engine: Engine) -> None:
        self._locks = locks_for(engine)
        self._mutex = threading.Lock()
        self._named: dict[str, tuple[str, datetime]] = {}  # source -> the row this store wrote

    def try_lock(self, source: str) -> bool:
        return self._locks.acquire(source)

    def unlock(self, source: str) -> None:
        with self._mutex:
            self._named.pop(source, None)
        self._locks.release(source)

    def holds(self, source: str) -> bool:
        """Whether this store holds ``source``'s lease (locked, and its holder recorded)."""
        with self._mutex:
            return source in self._named

    def record(self, conn: Connection, source: str, holder: str, at: datetime) -> None:
        """Name the holder of a lock just taken, in ``conn``'s transaction."""
        ins = queries.dialect_insert(conn, source_state).values(
            source=source, error_count=0, lease_holder=holder, lease_until=at
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[source_state.c.source],
                set_={"lease_holder": holder, "lease_until": at},
            )
        )
        with self._mutex:
            self._named[source] = (holder, at)

    def forget(self, conn: Connection, source: str) -> None:
        """Clear the row this store wrote, before its lock is let go. A row that names someone
        else is theirs: a PostgreSQL lease connection that broke lost its lock, which another
        replica may since have taken."""
        with self._mutex:
            named = self._named.get(source)
        if named is None:
            return
        holder, at = named
        st = source_state.c
        conn.execute(
            update(source_state)
            .where(st.source == source, st.lease_holder == holder, st.lease_until == at)
            .values(lease_holder=None, lease_until=None)
        )

    def holder(self, conn: Connection, source: str) -> LeaseInfo | None:
        st = source_state.c
        row = conn.execute(
            select(st.lease_holder, st.lease_until).where(st.source == source)
        ).first()
        if row is None or row.lease_holder is None or row.lease_until is None:
            return None
        if not self._locks.held(conn, source):
            return None  # a dead holder's name
        return LeaseInfo(holder=row.lease_holder, since=row.lease_until)

    def close(self) -> None:
        with self._mutex:
            sources = list(self._named)
            self._named.clear()
        for source in sources:
            self._locks.release(source)


def locks_for(engine: Engine) -> Locks:
    if engine.dialect.name == "postgresql":
        return AdvisoryLocks(engine)
    path = sqlite_file(engine.url)
    if path is None:
        # In memory (one database per process), or a ``file:`` URI this does not parse.
        return ProcessLocks()
    return FileLocks(Path(os.path.realpath(path)))


def lock_key(schema: str, source: str) -> int:
    """The advisory lock key of ``source`` in ``schema``: a signed 64-bit integer, the same in
    every process and release (unlike Python's ``hash``)."""
    digest = hashlib.blake2b(f"watcher-lease\0{schema}\0{source}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


_SCHEMA = text("SELECT coalesce(current_schema(), '')")
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = CAST(:high AS bigint)::oid AND objid = CAST(:low AS bigint)::oid"
    " AND objsubid = 1)"
)


class AdvisoryLocks:
    """PostgreSQL: each held lock is a connection of its own, outside the store's pool (a pool
    would keep a connection, and its session's locks, alive after release)."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url
        # Autocommit: a session that waits out a poll must not sit idle in a transaction.
        self._engine = create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._mutex = threading.Lock()
        self._held: dict[str, tuple[Connection, int]] = {}

    def acquire(self, source: str) -> bool:
        with self._mutex:
            if source in self._held:
                return False
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise failures.translate(exc, "taking a lease", self._url) from exc
        try:
            for name, value in KEEPALIVES.items():
                conn.exec_driver_sql(f"SET {name} = {value:d}")
            key = lock_key(conn.execute(_SCHEMA).scalar_one(), source)
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            if taken.scalar_one():
                with self._mutex:
                    self._held[source] = (conn, key)
                return True
        except SQLAlchemyError as exc:
            _close(conn)
            raise failures.translate(exc, "taking a lease", self._url) from exc
        _close(conn)
        return False

    def release(self, source: str) -> None:
        with self._mutex:
            entry = self._held.pop(source, None)
        if entry is None:
            return
        conn, key = entry
        try:
            # Unlock before closing: the server ends a closed session a moment later, and the
            # next holder may be asking now.
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        except SQLAlchemyError as exc:  # the session is gone, and its lock with it
            log.debug("event=lease_unlock_failed source=%s error=%s", source, exc)
        _close(conn)

    def held(self, conn: Connection, source: str) -> bool:
        key = lock_key(conn.execute(_SCHEMA).scalar_one(), source)
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        return bool(
            conn.execute(
                _HELD, {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF}
            ).scalar_one()
        )


def _close(conn: Connection) -> None:
    try:
        conn.close()
    except SQLAlchemyError as exc:
        log.debug("event=lease_connection_close_failed error=%s", exc)


class FileLocks:
    """SQLite: one lock file per source beside the database. The files are never deleted: a
    process may have one open and be about to lock it, and would then lock a file nobody else
    can find."""

    def __init__(self, database: Path) -> None:
        self.directory = database.with_name(database.name + ".leases")
        self._mutex = threading.Lock()
        self._held: dict[str, int] = {}  # source -> descriptor of its locked file

    def path(self, source: str) -> Path:
        name = quote(source, safe="")  # no separators: ".." is the file "...lock", no parent
        if len(name) > 200:
            name = "sha256-" + hashlib.sha256(source.encode()).hexdigest()
        return self.directory / f"{name}.lock"

    def acquire(self, source: str) -> bool:
        with self._mutex:
            if source in self._held:
                return False
            try:
                self.directory.mkdir(exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot create the lease directory {self.directory}: {exc.strerror or exc}"
                ) from exc
            path = self.path(source)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot open the lease file {path}: {exc.strerror or exc}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError as exc:
                os.close(fd)
                raise StoreError(
                    f"cannot lock the lease file {path}: {exc.strerror or exc}"
                ) from exc
            self._held[source] = fd
            return True

    def release(self, source: str) -> None:
        with self._mutex:
            fd = self._held.pop(source, None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor of that open file lets go of its lock

    def held(self, conn: Connection, source: str) -> bool:
        with self._mutex:
            if source in self._held:
                return True
        path = self.path(source)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False  # never locked
        except OSError as exc:
            raise StoreError(f"cannot open the lease file {path}: {exc.strerror or exc}") from exc
        try:
            # A shared lock is refused while anyone holds the exclusive one. For the instant it
            # is ours, another process's acquire would fail and skip one poll: the price of
            # asking, paid only when a row names a holder.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


class ProcessLocks:
    """In-memory SQLite: the sources this process's store has leased."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: set[str] = set()

    def acquire(self, source: str) -> bool:
        with self._mutex:
            if source in self._held:
                return False
            self._held.add(source)
            return True

    def release(self, source: str) -> None:
        with self._mutex:
            self._held.discard(source)

    def held(self, conn: Connection, source: str) -> bool:
        with self._mutex:
            return source in self._held
