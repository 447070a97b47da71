"""Version 1, the initial schema: every table but the search index. FROZEN: never edit.

The tables as they shipped, in their own ``MetaData``; times are ``DateTime(timezone=True)``,
the type the store's UTC times are kept in on both backends. ``schema_migrations`` is created
by ``migrations.migrate`` before any step runs (it records them); ``apply`` creates the rest.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAME = "initial schema"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime(timezone=True)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", Time, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("last_poll", Time),
    Column("last_ok", Time),
    Column("last_error", Text),
    Column("last_error_at", Time),
    Column("error_count", Integer, nullable=False, default=0),
    Column("lease_holder", String(200)),
    Column("lease_until", Time),
)

record_version = Table(
    "record_version",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("seen_at", Time, nullable=False),
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
    Column("first_seen", Time, nullable=False),
    Column("last_seen", Time, nullable=False),
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
    Column("at", Time, nullable=False),
    UniqueConstraint("source", "key", "type", "fingerprint"),
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
    Column("hits", Text, nullable=False),
    UniqueConstraint("event_id", "rule_id"),
)

delivery = Table(
    "delivery",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", String(200), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("period_end", Time, nullable=False),
    Column("created", Time, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_attempt", Time),
    Column("next_attempt", Time),
    Column("sent", Time),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", String(200), nullable=False),
    Column("event_id", Id, ForeignKey("event.id"), nullable=False),
    Column("created", Time, nullable=False),
    Column("delivery_id", Id, ForeignKey("delivery.id"), index=True),
    UniqueConstraint("subscription_id", "event_id"),
)

Index(
    "ix_ledger_pending",
    ledger.c.subscription_id,
    ledger.c.created,
    sqlite_where=ledger.c.delivery_id.is_(None),
    postgresql_where=ledger.c.delivery_id.is_(None),
)
Index(
    "ix_delivery_unsent",
    delivery.c.subscription_id,
    delivery.c.created,
    sqlite_where=delivery.c.sent.is_(None),
    postgresql_where=delivery.c.sent.is_(None),
)


def apply(conn: Connection) -> None:
    tables = [t for t in metadata.sorted_tables if t is not schema_migrations]
    metadata.create_all(conn, tables=tables, checkfirst=False)
