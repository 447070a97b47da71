"""The store's tables: one SQLAlchemy Core schema for SQLite and PostgreSQL.

This module describes the current shape of the database and nothing else; ``migrations`` brings a
database to it and ``sql`` queries it. A change here needs a migration that makes it (see
``history``); ``tests/test_migrations.py`` fails until the two agree. Table by table:

    schema_migrations  which migrations have been applied
    source_state       per source: last poll, last success, last error, who holds its lease,
                       the source's cursor, its health (what the last poll saw, open incidents)
    notice             an incident's opening or closing notice for one operator, until sent
    record             the current version of each record, and the listed fingerprint it was
                       fetched for
    record_version     every distinct version of every record (the base an event is shown against)
    event              one row per change; unique (source, key, type, fingerprint)
    event_match        one rule matching one event, with its hits
    ledger             an event owed to a subscription; unique (subscription, event); claimed by
                       a delivery
    delivery           the outbox: one message for one subscription, rendered when claimed,
                       with its channel, target, state (pending, sent, dead, dropped) and
                       send attempts
    record_words       the search index: one row per current record with its day and folded
                       words; on SQLite an FTS5 table (``record_words_fts``, external content)
                       indexes the words, on PostgreSQL ``words`` is a GIN-indexed tsvector

Records are JSON text (``model.record_to_dict``, one shape for every kind since version 4),
not JSON columns, so both backends store the
same bytes. Times are ``UTCDateTime``: aware UTC in and out, whatever the backend keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.types import TypeDecorator

# Constraint names are fixed so that later migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both backends.

    SQLite keeps no offset, so values are converted to UTC before they are written (the stored
    text then also sorts in time order) and read back as UTC. Naive datetimes are refused: the
    store cannot know which zone they meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("last_poll", UTCDateTime),
    Column("last_ok", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("error_count", Integer, nullable=False, default=0),
    # Who holds the polling lease, and since when (the column's name is from when a lease had
    # a term); only information: the lock in ``leases`` decides.
    Column("lease_holder", String(200)),
    Column("lease_until", UTCDateTime),
    Column("cursor", Text),  # JSON: where the source's last listing said to go on from
    # Health (``watcher.incidents``): what the last poll saw, and the open incidents.
    Column("items_listed", Integer),
    Column("items_new", Integer),
    Column("parse_errors", Integer),
    Column("last_new_at", UTCDateTime),
    Column("first_poll", UTCDateTime),
    Column("failing_since", UTCDateTime),
    Column("incidents", Text),  # JSON: kind -> since, ISO 8601 UTC
)

# An incident's opening or closing notice for one operator, kept until it is sent.
notice = Table(
    "notice",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("opened", Boolean, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt", UTCDateTime),
    Column("sent", UTCDateTime),
    UniqueConstraint("source", "kind", "opened", "since", "operator"),
)
Index(
    "ix_notice_unsent",
    notice.c.operator,
    notice.c.at,
    sqlite_where=notice.c.sent.is_(None),
    postgresql_where=notice.c.sent.is_(None),
)

record_version = Table(
    "record_version",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("source", "key", "fingerprint"),
)

record = Table(
    "record",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("listed_fingerprint", String(200), nullable=False),
    Column("data", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["source", "key", "fingerprint"],
        ["record_version.source", "record_version.key", "record_version.fingerprint"],
    ),
)

event = Table(
    "event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("previous_fingerprint", String(64)),
    Column("replaces_holding", Boolean, nullable=False, default=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("source", "key", "type", "fingerprint"),
    # Both versions an event shows must exist, so it can always be rebuilt.
    ForeignKeyConstraint(
        ["source", "key", "fingerprint"],
        ["record_version.source", "record_version.key", "record_version.fingerprint"],
    ),
    ForeignKeyConstraint(
        ["source", "key", "previous_fingerprint"],
        ["record_version.source", "record_version.key", "record_version.fingerprint"],
    ),
)

event_match = Table(
    "event_match",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("event.id"), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("hits", Text, nullable=False),  # JSON: [[field, start, end, term], ...]
    UniqueConstraint("event_id", "rule_id"),
)

delivery = Table(
    "delivery",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", String(200), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("period_end", UTCDateTime, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_attempt", UTCDateTime),
    Column("next_attempt", UTCDateTime),
    Column("sent", UTCDateTime),
    # The outbox (version 6): what to send where, rendered once, and how far it got.
    Column("channel", String(200)),
    Column("target", Text),  # JSON list of addresses; [] for chat and webhook channels
    Column("format", String(40)),
    Column("payload", Text),  # model.message_to_json
    Column("items", Integer),  # how many items the digest has
    Column("claimed_by", String(200)),
    Column("claimed_until", UTCDateTime),
    Column("parts_sent", Integer, nullable=False, server_default=text("0")),
    Column("state", String(10), nullable=False, server_default=text("'pending'")),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", String(200), nullable=False),
    Column("event_id", Id, ForeignKey("event.id"), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("delivery_id", Id, ForeignKey("delivery.id"), index=True),
    UniqueConstraint("subscription_id", "event_id"),
)

# What the sending half scans on every tick: only the unclaimed or unsent rows.
Index(
    "ix_ledger_pending",
    ledger.c.subscription_id,
    ledger.c.created,
    sqlite_where=ledger.c.delivery_id.is_(None),
    postgresql_where=ledger.c.delivery_id.is_(None),
)
Index(
    "ix_delivery_due",
    delivery.c.next_attempt,
    sqlite_where=delivery.c.state == "pending",
    postgresql_where=delivery.c.state == "pending",
)

# The full-text candidate index (see ``fulltext``). ``words`` holds the distinct folded words of
# the record's text fields, so the index tokenises nothing itself and agrees with the matcher on
# what a word is. SQLite keeps them as space-separated text, the external content of an FTS5
# table; PostgreSQL as a tsvector built from the word list verbatim (``array_to_tsvector``).
record_words = Table(
    "record_words",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # of the version indexed
    Column("day", Date, nullable=False),  # latest of tabled/answered/corrected
    Column("words", Text().with_variant(TSVECTOR(), "postgresql"), nullable=False),
    UniqueConstraint("source", "key"),
)
Index("ix_record_words_day", record_words.c.day)
# SQLite: what a candidate query returns, by the FTS5 rowid, without reading the table row, which
# is several pages long (its ``words``): 0.3 s instead of 0.6 s for 129,000 candidates. Queries
# name it (INDEXED BY) because the planner prefers the rowid. PostgreSQL keeps ``words`` out of
# line (TOAST), so its rows are small already.
LOOKUP_INDEX = Index(
    "ix_record_words_lookup",
    record_words.c.id,
    record_words.c.day,
    record_words.c.source,
    record_words.c.key,
)
LOOKUP_INDEX.ddl_if(dialect="sqlite")
Index("ix_record_words_words", record_words.c.words, postgresql_using="gin").ddl_if(
    dialect="postgresql"
)

# Every folded word is one FTS5 token: only separators (Z*) split, so a word the matcher sees is
# never cut in two. ``detail=none``: the index answers "which rows hold this word", nothing more.
FTS5_TOKENIZE = "unicode61 remove_diacritics 2 categories 'L* M* N* P* S* C*'"
_SQLITE_FTS = (
    f"""CREATE VIRTUAL TABLE record_words_fts USING fts5(
        words, content='record_words', content_rowid='id', detail=none, columnsize=0,
        tokenize="{FTS5_TOKENIZE}")""",
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


def _create_fts(_table: Table, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            connection.exec_driver_sql(statement)


def _drop_fts(_table: Table, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TABLE IF EXISTS record_words_fts")


sa_event.listen(record_words, "after_create", _create_fts)
sa_event.listen(record_words, "before_drop", _drop_fts)
