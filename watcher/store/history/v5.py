"""Version 5, source health. FROZEN: never edit.

``source_state`` gains what a poll saw (``items_listed``, ``items_new``, ``parse_errors``),
when something new last arrived (``last_new_at``), the first poll (``first_poll``), the start
of the current run of failures (``failing_since``) and the open incidents (``incidents``,
JSON: kind -> since). ``notice`` holds each incident's opening and closing notice for each
operator until it is sent. Existing rows keep their values; the new columns start empty.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAME = "source health"

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

notice = Table(
    "notice",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("opened", Boolean, nullable=False),
    Column("since", Time, nullable=False),
    Column("at", Time, nullable=False),
    Column("detail", Text, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt", Time),
    Column("sent", Time),
    UniqueConstraint("source", "kind", "opened", "since", "operator"),
)
Index(
    "ix_notice_unsent",
    notice.c.operator,
    notice.c.at,
    sqlite_where=notice.c.sent.is_(None),
    postgresql_where=notice.c.sent.is_(None),
)

_COLUMNS = (
    ("items_listed", Integer()),
    ("items_new", Integer()),
    ("parse_errors", Integer()),
    ("last_new_at", Time),
    ("first_poll", Time),
    ("failing_since", Time),
    ("incidents", Text()),
)


def apply(conn: Connection) -> None:
    for name, type_ in _COLUMNS:
        declared = type_.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE source_state ADD COLUMN {name} {declared}")
    metadata.create_all(conn)
