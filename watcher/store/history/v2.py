"""Version 2, the full-text search index ``record_words``. FROZEN: never edit.

Creates the table (with its FTS5 table and triggers on SQLite, its GIN index on PostgreSQL) and
indexes every record stored before it. How the index keeps words is this version's: on SQLite
space-separated text, the external content of the FTS5 table; on PostgreSQL a tsvector built
verbatim by ``array_to_tsvector``. Which words a record has is not: they come from the live
``fulltext.index_words``, so the index agrees with the matcher that searches it (a release that
changes the words refills the index in a migration of its own).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

from watcher.store import fulltext, queries
from watcher.store.history.v1 import record

NAME = "full-text search index"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")

record_words = Table(
    "record_words",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("words", Text().with_variant(TSVECTOR(), "postgresql"), nullable=False),
    UniqueConstraint("source", "key"),
)
Index("ix_record_words_day", record_words.c.day)
Index("ix_record_words_words", record_words.c.words, postgresql_using="gin").ddl_if(
    dialect="postgresql"
)

_SQLITE_FTS = (
    """CREATE VIRTUAL TABLE record_words_fts USING fts5(
        words, content='record_words', content_rowid='id', detail=none, columnsize=0,
        tokenize="unicode61 remove_diacritics 2 categories 'L* M* N* P* S* C*'")""",
    """CREATE TRIGGER record_words_ai AFTER INSERT ON record_words BEGIN
        INSERT INTO record_words_fts(rowid, words) VALUES (new.id, new.words);
    END""",
    """CREATE TRIGGER record_words_ad AFTER DELETE ON record_words BEGIN
        INSERT INTO record_words_fts(record_words_fts, rowid, words)
        VALUES ('delete', old.id, old.words);
    END""",
    """CREATE TRIGGER record_words_au AFTER UPDATE OF words ON record_words BEGIN
        INSERT INTO record_words_fts(record_words_fts, rowid, words)
        VALUES ('delete', old.id, old.words);
        INSERT INTO record_words_fts(rowid, words) VALUES (new.id, new.words);
    END""",
)


def apply(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=False)
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            conn.exec_driver_sql(statement)
    fill(conn)


def fill(conn: Connection) -> int:
    """Index every stored record (the table is new: none is indexed yet); how many."""
    by_source: dict[str, list[str]] = {}
    for source, key in conn.execute(select(record.c.source, record.c.key)).all():
        by_source.setdefault(source, []).append(key)
    if conn.dialect.name == "postgresql":
        words: Any = func.array_to_tsvector(bindparam("words", type_=ARRAY(Text)))
    else:
        words = bindparam("words")
    stmt = insert(record_words).values(
        source=bindparam("source"),
        key=bindparam("key"),
        fingerprint=bindparam("fingerprint"),
        day=bindparam("day"),
        words=words,
    )
    done = 0
    for source, keys in sorted(by_source.items()):
        for chunk in queries.chunks(sorted(keys)):
            found = conn.execute(
                select(record.c.fingerprint, record.c.data, record.c.first_seen).where(
                    record.c.source == source, record.c.key.in_(chunk)
                )
            ).all()
            rows = [_row(conn, fingerprint, data, seen) for fingerprint, data, seen in found]
            if rows:
                conn.execute(stmt, rows)
            done += len(rows)
    return done


def _row(conn: Connection, fingerprint: str, data: str, first_seen: datetime) -> dict[str, Any]:
    r = queries.record_of(data)
    terms = fulltext.index_words(r)
    return {
        "source": r.source,
        "key": r.key,
        "fingerprint": fingerprint,
        "day": fulltext.record_day(r, _utc_day(first_seen)),
        "words": terms if conn.dialect.name == "postgresql" else " ".join(terms),
    }


def _utc_day(at: datetime) -> date:
    # SQLite gives back the naive UTC time it keeps; PostgreSQL an aware time in the session's
    # zone, whose date may not be the UTC one.
    return at.astimezone(UTC).date() if at.tzinfo is not None else at.date()
