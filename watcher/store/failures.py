"""Database failures as our errors: ``StoreUnavailableError`` when the database cannot be reached
or opened, ``StoreError`` for anything else.

Unavailable on PostgreSQL: every failure to connect (refused, unknown host, timeout, password,
no such database or role, too many connections, starting up or shutting down; psycopg gives
these no SQLSTATE), a connection lost or ended by the server, and the SQLSTATE classes that mean
the same when a statement meets them. The message is the first line of the driver's, without
its ``connection failed:`` prefix, and with the URL's password masked should the driver ever
repeat it. On SQLite: a file that cannot be created, opened or written, and then the message
names the file and the OS's reason, found by looking at the file and its directory (SQLite
itself only says "unable to open database file"). No message holds SQL or SQLAlchemy's
background link; the URL is left to the caller.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from watcher.errors import StoreError, StoreUnavailableError
from watcher.store.engine import sqlite_file

# SQLSTATEs of a database that cannot be used at all: 08 connection exception, 28 invalid
# authorization, 3D000 no such database, 53300 too many connections, 57P01-57P03 shutting down,
# crashed, cannot connect now.
_PG_UNAVAILABLE = ("08", "28", "3D000", "53300", "57P01", "57P02", "57P03")

# SQLite's primary result codes for a file it cannot open, or cannot write.
_SQLITE_OPEN = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM}
_SQLITE_WRITE = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}


def translate(exc: SQLAlchemyError, what: str, url: URL, *, probe: bool = True) -> StoreError:
    """The error to raise (``from exc``) for ``exc``, met while ``what`` on the store at
    ``url``. ``probe``: see ``os_reason``."""
    reason = unavailable(exc, url, probe=probe)
    if reason is not None:
        return StoreUnavailableError(reason)
    return StoreError(f"{what} failed: {exc}")


def unavailable(exc: SQLAlchemyError, url: URL, *, probe: bool = True) -> str | None:
    """Why the database at ``url`` cannot be used, if that is what ``exc`` says; else None."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    if url.get_backend_name() == "sqlite":
        if isinstance(orig, sqlite3.Error):
            return _sqlite_reason(orig, url, probe=probe)
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if (
        exc.connection_invalidated
        or (isinstance(exc, OperationalError) and sqlstate is None)
        or (isinstance(sqlstate, str) and sqlstate.startswith(_PG_UNAVAILABLE))
    ):
        return _first_line(str(orig), url.password)
    return None


def _first_line(message: str, password: str | None) -> str:
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    line = line.removeprefix("connection failed: ")
    if password:
        line = line.replace(password, "***")
    return line or "the database cannot be reached"


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_reason(orig: sqlite3.Error, url: URL, *, probe: bool) -> str | None:
    code = getattr(orig, "sqlite_errorcode", 0) & 0xFF
    if code not in _SQLITE_OPEN | _SQLITE_WRITE:
        return None
    said = _first_line(str(orig), None)
    path = sqlite_file(url)
    if path is None:
        return f"cannot open the SQLite store {url.database or ':memory:'}: {said}"
    if code == sqlite3.SQLITE_NOTADB:
        return f"cannot open the SQLite store {path}: {said}"
    if code in _SQLITE_WRITE:
        return f"cannot write the SQLite store {path}: {os_reason(path, probe=probe) or said}"
    verb = "open" if path.exists() else "create"
    return f"cannot {verb} the SQLite store {path}: {os_reason(path, probe=probe) or said}"


def os_reason(path: Path, *, probe: bool, directories: bool = False) -> str | None:
    """Why the OS would not let the store create, open or write the SQLite file ``path`` and
    the journal files beside it, as the OS words it; None if nothing is found. A missing
    directory is a reason, unless ``directories`` (``migrate`` creates them first). Looks
    without writing, unless ``probe``: then it also tries to create (and removes) a file of its
    own in the directory, which finds what looking cannot (a root user on a file system that
    refuses files)."""
    try:
        return _path_reason(path, probe=probe, directories=directories)
    except OSError as exc:  # the looking itself was refused
        return exc.strerror or str(exc)


def _path_reason(path: Path, *, probe: bool, directories: bool) -> str | None:
    if path.is_dir():
        return os.strerror(errno.EISDIR)
    if path.exists():
        os.close(os.open(path, os.O_RDWR))
        return _directory_reason(path.parent, probe=probe)
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return os.strerror(errno.ENOTDIR)
    if existing != path.parent and not directories:
        return os.strerror(errno.ENOENT)
    return _directory_reason(existing, probe=probe)


def _directory_reason(directory: Path, *, probe: bool) -> str | None:
    if os.statvfs(directory).f_flag & os.ST_RDONLY:
        return os.strerror(errno.EROFS)
    if not os.access(directory, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    if probe:
        fd, name = tempfile.mkstemp(prefix=".watcher-probe-", dir=directory)
        os.close(fd)
        os.unlink(name)
    return None
