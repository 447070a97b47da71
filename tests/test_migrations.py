"""Schema migrations, on SQLite and PostgreSQL (see conftest).

Two promises. Migrating an empty database builds exactly what ``schema.py`` describes, compared
by reflection with a database built from ``schema.metadata`` directly, so editing either without
the other fails here. And a database at any earlier version, with rows in every table, upgrades
to the latest with every row intact and the store working on them: reads, the search index over
the old records, claims, and a new commit on top. A database "at version N" is built by running
the migrations up to N and writing rows the way version N's code did (``WRITERS``), so adding a
migration adds its upgrade test by itself; a migration that changes what rows look like adds a
writer for its version.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.types import NullType

from watcher import backtest
from watcher.incidents import Kind, Notice
from watcher.kinds.questions import question_fields, revise
from watcher.match import Document, Metadata, match_document, parse
from watcher.model import (
    Event,
    EventType,
    Hit,
    Match,
    Message,
    Person,
    Record,
    Status,
    Text,
    message_to_json,
)
from watcher.sources.parliament import parse_question
from watcher.store import (
    LeaseInfo,
    LedgerEntry,
    OutboxState,
    Outgoing,
    PendingMigration,
    PollHealth,
    PollOutcome,
    SchemaStatus,
    SourceState,
    Store,
    fulltext,
    open_store,
)
from watcher.store import schema as tables
from watcher.store.engine import sqlite_directory, store_engine
from watcher.store.history import v1, v2, v5
from watcher.store.migrations import MIGRATIONS, latest_version, migrate
from watcher.store.queries import record_json
from watcher.testing import load_fixtures

SRC = "wq"
T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)  # the tabled versions were seen
T1 = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)  # the current versions were seen
T2 = datetime(2024, 3, 20, 9, 0, tzinfo=UTC)  # the first poll after the upgrade
LEASE_UNTIL = T2 + timedelta(hours=1)
OLDER = [m.version for m in MIGRATIONS if m.version < latest_version()]


@contextmanager
def engine_on(url: str) -> Iterator[Engine]:
    engine = store_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def at_version(url: str, version: int) -> None:
    """Bring the empty database at ``url`` to ``version`` by the migrations up to it."""
    with engine_on(url) as engine:
        sqlite_directory(engine.url)
        migrate(engine, upto=version)


# --- the schema as reflection sees it -------------------------------------------------------


def describe(url: str) -> dict[str, Any]:
    """The database's schema in comparable form: per table its columns (type as the backend
    declares it, nullability, default), primary key, unique constraints, foreign keys, indexes
    (with a partial index's predicate and access method) and checks; on SQLite also the
    triggers and virtual tables, by their SQL."""
    with engine_on(url) as engine, engine.connect() as conn:
        found = inspect(conn)
        dialect = conn.dialect
        described: dict[str, Any] = {}
        for name in sorted(found.get_table_names()):
            pk = found.get_pk_constraint(name)
            described[name] = {
                "columns": sorted(
                    (
                        c["name"],
                        _declared(c["type"], dialect),
                        c["nullable"],
                        str(c.get("default")),
                        c.get("autoincrement"),
                    )
                    for c in found.get_columns(name)
                ),
                "primary key": (pk.get("name"), tuple(pk["constrained_columns"])),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in found.get_unique_constraints(name)
                ),
                "foreign keys": sorted(
                    (
                        f["name"],
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                    )
                    for f in found.get_foreign_keys(name)
                ),
                "indexes": sorted(
                    (
                        i["name"],
                        tuple(str(c) for c in i["column_names"]),
                        bool(i["unique"]),
                        tuple(
                            sorted((k, _squeeze(str(v))) for k, v in i["dialect_options"].items())
                        ),
                    )
                    for i in found.get_indexes(name)
                ),
                "checks": sorted(
                    (c["name"], _squeeze(c["sqltext"])) for c in found.get_check_constraints(name)
                ),
            }
        if dialect.name == "sqlite":
            described["sqlite objects"] = sorted(
                (kind, name, _squeeze(sql))
                for kind, name, sql in conn.exec_driver_sql(
                    "SELECT type, name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "OR (type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%')"
                )
            )
        return described


def _declared(type_: Any, dialect: Any) -> str:
    # An FTS5 table's columns have no type.
    return "" if isinstance(type_, NullType) else str(type_.compile(dialect=dialect))


def _squeeze(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def build_from(url: str, metadata: MetaData) -> None:
    with engine_on(url) as engine:
        sqlite_directory(engine.url)
        metadata.create_all(engine)


def test_migrating_an_empty_database_builds_exactly_what_schema_py_describes(
    store_url: str, another_store_url: str
) -> None:
    store = open_store(store_url)
    try:
        store.migrate()
    finally:
        store.close()
    build_from(another_store_url, tables.metadata)

    migrated = describe(store_url)
    assert migrated == describe(another_store_url)
    # What the comparison covers, so that it cannot pass by seeing nothing.
    assert set(tables.metadata.tables) <= set(migrated)
    [pending] = [i for i in migrated["ledger"]["indexes"] if i[0] == "ix_ledger_pending"]
    assert any("delivery_id IS NULL" in value for _option, value in pending[3])
    if store_url.startswith("sqlite"):
        assert {name for _kind, name, _sql in migrated["sqlite objects"]} == {
            "record_words_fts",
            "record_words_ai",
            "record_words_ad",
            "record_words_au",
        }


def _copy(change: Callable[[MetaData], None]) -> MetaData:
    copied = MetaData(naming_convention=tables.metadata.naming_convention)
    for table in tables.metadata.sorted_tables:
        table.to_metadata(copied)
    change(copied)
    return copied


def _add_column(m: MetaData) -> None:
    m.tables["record"].append_column(Column("extra", String(10)))


def _nullable(m: MetaData) -> None:
    m.tables["delivery"].c.created.nullable = True


def _wider(m: MetaData) -> None:
    m.tables["event"].c.type.type = String(80)


def _whole_index(m: MetaData) -> None:
    ledger = m.tables["ledger"]
    [partial] = [i for i in ledger.indexes if i.name == "ix_ledger_pending"]
    ledger.indexes.discard(partial)
    Index("ix_ledger_pending", ledger.c.subscription_id, ledger.c.created)


def _no_unique(m: MetaData) -> None:
    table = m.tables["ledger"]
    [unique] = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    table.constraints.remove(unique)


def _no_foreign_key(m: MetaData) -> None:
    table = m.tables["event_match"]
    [key] = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    table.constraints.remove(key)
    table.foreign_keys.clear()


def _extra_index(m: MetaData) -> None:
    Index("ix_record_kind", m.tables["record"].c.kind)


CHANGES = [_add_column, _nullable, _wider, _whole_index, _no_unique, _no_foreign_key, _extra_index]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__)
def test_the_schema_comparison_notices_an_edit_to_schema_py(
    store_url: str, another_store_url: str, change: Callable[[MetaData], None]
) -> None:
    build_from(store_url, _copy(lambda _m: None))
    build_from(another_store_url, _copy(change))
    assert describe(another_store_url) != describe(store_url)


# --- rows as each version wrote them ----------------------------------------------------------


class Seed(NamedTuple):
    """History as a store at some version holds it: items tabled and then answered, events
    with the versions they replaced, matches, ledger rows claimed by a sent and by a failed
    delivery and still pending, and source state with a lease."""

    current: tuple[Record, ...]  # the fixtures: every item's current version
    earlier: dict[str, Record]  # key -> the tabled version an answer replaced
    events: tuple[Event, ...]
    matches: dict[int, dict[str, tuple[Hit, ...]]]  # event index -> rule -> hits
    owed: tuple[tuple[str, int], ...]  # (subscription, event index)
    claimed: dict[str, tuple[tuple[str, int], ...]]  # delivery key -> its ledger rows


RULES = {"send": '"special educational needs"', "staff": "staff OR recruitment", "jail": "prison*"}
SUBSCRIBED = {"alice": ("send", "staff"), "bob": ("staff", "jail")}
SENT, FAILED = "alice-2024-01-15", "bob-2024-01-15"


def seed() -> Seed:
    current = tuple(parse_question(value, SRC) for value in load_fixtures())
    by_key = {r.key: r for r in current}
    earlier = {
        key: revise(
            by_key[key], status=Status.TABLED, answer=None, answered_by=None, date_answered=None
        )
        for key in ("1683412", "1690001", "1679590")
    }
    events: list[Event] = []
    for key, tabled in earlier.items():
        events.append(Event(EventType.TABLED, tabled))
        events.append(Event(EventType.ANSWERED, by_key[key], previous=tabled))
    events.append(Event(EventType.HOLDING, by_key["1690002"]))
    matches: dict[int, dict[str, tuple[Hit, ...]]] = {}
    for n, e in enumerate(events):
        for rule, query in RULES.items():
            hits = match_document(parse(query), Document.from_record(e.record))
            if hits is not None:
                matches.setdefault(n, {})[rule] = hits
    owed = tuple(
        (sub, n)
        for n, rules in sorted(matches.items())
        for sub, wanted in SUBSCRIBED.items()
        if set(rules) & set(wanted)
    )
    alice = [row for row in owed if row[0] == "alice"]
    bob = [row for row in owed if row[0] == "bob"]
    claimed = {SENT: tuple(alice[:2]), FAILED: tuple(bob[:1])}
    # Every kind of ledger row (sent, failed, pending) for both subscriptions.
    assert len(alice) > 2
    assert len(bob) > 1
    return Seed(current, earlier, tuple(events), matches, owed, claimed)


class Written(NamedTuple):
    ledger: dict[tuple[str, int], int]  # (subscription, event index) -> ledger id
    deliveries: dict[str, int]  # idempotency key -> delivery id


def v1_json(r: Record) -> str:
    """A record as versions 1 to 3 stored it: a written question, flat."""
    f = question_fields(r)

    def text(t: Text | None) -> Any:
        return None if t is None else {"html": t.html, "plain": t.plain}

    def person(p: Person | None) -> Any:
        return None if p is None else dataclasses.asdict(p)

    def day(d: date | None) -> str | None:
        return None if d is None else d.isoformat()

    flat = {
        **{k: f[k] for k in ("source", "key", "kind", "title", "url", "house", "uin")},
        **{k: f[k] for k in ("department", "department_id", "is_correction", "named_day")},
        "status": f["status"].value,
        "member_has_interest": f["member_has_interest"],
        **{k: person(f[k]) for k in ("asked_by", "answered_by", "corrected_by")},
        **{k: text(f[k]) for k in ("question", "answer", "original_answer")},
        **{k: day(f[k]) for k in f if k.startswith("date_")},
        "grouped": [{"uin": g.uin, "date_tabled": day(g.date_tabled)} for g in f["grouped"]],
        "attachments": [dataclasses.asdict(a) for a in f["attachments"]],
    }
    return json.dumps(flat, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# Until version 4 a question's title was its "heading", in stored hits too.
V1_FIELD = {"title": "heading"}


def write_v1(
    conn: Connection,
    s: Seed,
    as_json: Callable[[Record], str] = v1_json,
    field_names: Mapping[str, str] = V1_FIELD,
) -> Written:
    """The seed's rows as version 1 stored them (hits as [field, start, end, term]); with
    ``as_json`` and ``field_names``, as a later version stored them in the same tables."""
    versions = [(r, T0) for r in s.earlier.values()] + [(r, T1) for r in s.current]
    conn.execute(
        insert(v1.record_version),
        [
            {"source": r.source, "key": r.key, "fingerprint": r.fingerprint, "data": as_json(r)}
            | {"seen_at": seen}
            for r, seen in versions
        ],
    )
    conn.execute(
        insert(v1.record),
        [
            {
                "source": r.source,
                "key": r.key,
                "kind": r.kind,
                "fingerprint": r.fingerprint,
                "listed_fingerprint": f"listed-{r.key}",
                "data": as_json(r),
                "first_seen": T0 if r.key in s.earlier else T1,
                "last_seen": T1,
            }
            for r in s.current
        ],
    )
    event_ids = [
        conn.execute(
            insert(v1.event).returning(v1.event.c.id),
            {
                "source": e.record.source,
                "key": e.record.key,
                "type": e.type.value,
                "fingerprint": e.record.fingerprint,
                "previous_fingerprint": e.previous.fingerprint if e.previous else None,
                "replaces_holding": e.replaces_holding,
                "at": T0 if e.type is EventType.TABLED else T1,
            },
        ).scalar_one()
        for e in s.events
    ]
    conn.execute(
        insert(v1.event_match),
        [
            {
                "event_id": event_ids[n],
                "rule_id": rule,
                "hits": json.dumps(
                    [[field_names.get(h.field, h.field), h.start, h.end, h.term] for h in hits]
                ),
            }
            for n, rules in s.matches.items()
            for rule, hits in rules.items()
        ],
    )
    deliveries = {
        SENT: conn.execute(
            insert(v1.delivery).returning(v1.delivery.c.id),
            {"subscription_id": "alice", "idempotency_key": SENT, "period_end": T1}
            | {"created": T1, "attempts": 1, "last_attempt": T1, "sent": T1},
        ).scalar_one(),
        FAILED: conn.execute(
            insert(v1.delivery).returning(v1.delivery.c.id),
            {"subscription_id": "bob", "idempotency_key": FAILED, "period_end": T1}
            | {"created": T1, "attempts": 2, "last_error": "SMTP 451 try again later"}
            | {"last_attempt": T1, "next_attempt": T1 + timedelta(hours=1)},
        ).scalar_one(),
    }
    claimed_by = {row: deliveries[key] for key, rows in s.claimed.items() for row in rows}
    ledger = {
        (sub, n): conn.execute(
            insert(v1.ledger).returning(v1.ledger.c.id),
            {
                "subscription_id": sub,
                "event_id": event_ids[n],
                "created": T0 if s.events[n].type is EventType.TABLED else T1,
                "delivery_id": claimed_by.get((sub, n)),
            },
        ).scalar_one()
        for sub, n in s.owed
    }
    conn.execute(
        insert(v1.source_state),
        [
            {"source": SRC, "last_poll": T1, "last_ok": T1, "last_error": None}
            | {"last_error_at": None, "error_count": 0}
            | {"lease_holder": "replica-a", "lease_until": LEASE_UNTIL},
            {"source": "other-source", "last_poll": T1, "last_ok": None, "last_error": "HTTP 503"}
            | {"last_error_at": T1, "error_count": 3}
            | {"lease_holder": None, "lease_until": None},
        ],
    )
    return Written(ledger, deliveries)


def write_v2(conn: Connection, s: Seed) -> Written:
    """Version 2 also indexed every record it stored, as its migration did."""
    written = write_v1(conn, s)
    v2.fill(conn)
    return written


def write_v4(conn: Connection, s: Seed) -> Written:
    """Version 4 stored every record in today's shape and hits by today's field names (its
    cursor column stays empty, as for a source whose listing never gave one)."""
    written = write_v1(conn, s, record_json, {})
    fulltext.update(conn, [(r, r.fingerprint) for r in s.current])  # as its commit indexed
    return written


def write_v5(conn: Connection, s: Seed) -> Written:
    """Version 5 also kept each source's health and the operators' notices."""
    written = write_v4(conn, s)
    conn.execute(
        tables.source_state.update()
        .where(tables.source_state.c.source == "other-source")
        .values(
            items_listed=0,
            items_new=0,
            parse_errors=0,
            first_poll=T0,
            last_new_at=T0,
            failing_since=T0,
            incidents=json.dumps({"failing": T1.isoformat()}),
        )
    )
    conn.execute(
        insert(v5.notice),
        [
            {"source": "other-source", "kind": "failing", "opened": True, "since": T0, "at": T1}
            | {"detail": "3 failed polls in a row: HTTP 503", "operator": "ops", "attempts": 0}
            | {"sent": None},  # an executemany takes its columns from the first row
            {"source": SRC, "kind": "unparsable", "opened": True, "since": T0, "at": T1}
            | {"detail": "3 of 10 items unparsable", "operator": "ops", "attempts": 1}
            | {"sent": T1},
        ],
    )
    return written


def write_v6(conn: Connection, s: Seed) -> Written:
    """Version 6 wrote each delivery's message into the outbox when it claimed the rows."""
    written = write_v5(conn, s)
    for key, state in ((SENT, "sent"), (FAILED, "pending")):
        message = Message(key, subject=f"digest {key}", text="t", html="<p>h</p>")
        conn.execute(
            tables.delivery.update()
            .where(tables.delivery.c.idempotency_key == key)
            .values(
                state=state,
                channel="email",
                target=json.dumps(["a@example.org"]),
                format="email",
                payload=message_to_json(message),
                items=len(s.claimed[key]),
                parts_sent=0,
            )
        )
    return written


# The writer for a version is the newest at or below it.
WRITERS: dict[int, Callable[[Connection, Seed], Written]] = {
    1: write_v1,
    2: write_v2,
    4: write_v4,
    5: write_v5,
    6: write_v6,
}


def write_at(url: str, version: int, s: Seed) -> Written:
    writer = WRITERS[max(v for v in WRITERS if v <= version)]
    with engine_on(url) as engine, engine.begin() as conn:
        return writer(conn, s)


# What version 4 rewrote or added, left out of the before-and-after comparison from older
# versions: the records' shape and the hits' field names are checked by reading them back
# (``check_reads``), the new column by its default.
REWRITTEN_BY_V4 = {
    "record": {"data"},
    "record_version": {"data"},
    "event_match": {"hits"},
    "source_state": {"cursor"},
}
# What version 5 added: empty after the upgrade, and checked by a new poll writing it.
ADDED_BY_V5 = {
    "source_state": {
        "items_listed",
        "items_new",
        "parse_errors",
        "last_new_at",
        "first_poll",
        "failing_since",
        "incidents",
    }
}
ADDED_BY_V6 = {
    "delivery": {
        "channel",
        "target",
        "format",
        "payload",
        "items",
        "claimed_by",
        "claimed_until",
        "parts_sent",
        "state",
    },
    # A delivery not yet sent held no rendered message; v6 removes it and gives its rows back
    # to be claimed into the outbox (checked in ``check_reads``).
    "ledger": {"delivery_id"},
}
NEW_TABLES = {5: ("notice",)}


def left_out(version: int) -> dict[str, set[str]]:
    """The columns to compare without when upgrading from ``version``."""
    out: dict[str, set[str]] = {}
    for since, columns in ((4, REWRITTEN_BY_V4), (5, ADDED_BY_V5), (6, ADDED_BY_V6)):
        if version < since:
            for table, names in columns.items():
                out.setdefault(table, set()).update(names)
    return out


def rows(
    url: str, leave_out: Mapping[str, set[str]] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the search index (derived, checked by searching), without
    the columns ``leave_out`` names."""
    with engine_on(url) as engine, engine.connect() as conn:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for name in inspect(conn).get_table_names():
            if name.startswith("record_words"):
                continue
            table = Table(name, MetaData(), autoload_with=conn)
            skip = (leave_out or {}).get(name, set())
            columns = [c for c in table.columns if c.name not in skip]
            out[name] = [tuple(r) for r in conn.execute(select(*columns).order_by(*columns))]
        return out


# --- upgrading --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", OLDER, ids=lambda v: f"from-v{v}")
def test_a_database_at_an_earlier_version_upgrades_with_its_rows(
    store_url: str, another_store_url: str, version: int
) -> None:
    s = seed()
    at_version(store_url, version)
    written = write_at(store_url, version, s)
    leave_out = left_out(version)
    before = rows(store_url, leave_out)
    empty = [name for name, found in before.items() if not found]
    assert not empty, f"no rows at version {version} in {empty}: add a writer to WRITERS"

    store = open_store(store_url)
    try:
        assert store.schema_status() == SchemaStatus(
            exists=True,
            applied=tuple(range(1, version + 1)),
            pending=tuple(PendingMigration(m.version, m.name) for m in MIGRATIONS[version:]),
        )
        store.migrate()
        assert store.schema_status().up_to_date
        after = rows(store_url, leave_out)
        assert set(before["schema_migrations"]) < set(after.pop("schema_migrations"))
        before.pop("schema_migrations")
        for added, names in NEW_TABLES.items():
            if version < added:
                for name in names:
                    assert after.pop(name) == [], name
        if version < 6:  # v6 removes the delivery not yet sent (its key is the third column)
            kept = [row for row in before.pop("delivery") if row[2] != FAILED]
            assert after.pop("delivery") == kept == [r for r in kept if r[2] == SENT]
        assert after == before
        check_reads(store, s, written)
        check_search(store, s)
        assert index_rows(store_url) == index_rows_as_committed(another_store_url, s)
        check_new_poll(store, s, written)
    finally:
        store.close()


HEALTH_FIELDS = (
    "items_listed",
    "items_new",
    "parse_errors",
    "last_new_at",
    "first_poll",
    "failing_since",
    "incidents",
)


def check_reads(store: Store, s: Seed, written: Written) -> None:
    assert store.current(SRC, [r.key for r in s.current] + ["never"]) == {
        r.key: r for r in s.current
    }
    assert store.listed_fingerprints(SRC, [r.key for r in s.current]) == {
        r.key: f"listed-{r.key}" for r in s.current
    }
    # The delivery not yet sent held no message: its rows are owed again, to be rendered into
    # the outbox under the same key (the same rows give the same idempotency key).
    claimed = {row for key, group in s.claimed.items() if key != FAILED for row in group}
    for sub in SUBSCRIBED:
        expected = [row for row in s.owed if row[0] == sub and row not in claimed]
        expected.sort(key=lambda row: (s.events[row[1]].type is not EventType.TABLED, row))
        assert [described(i) for i in store.pending(sub, T2)] == [
            expected_item(s, written, row) for row in expected
        ]
    for key, group in s.claimed.items():
        if key == FAILED:
            assert store.delivery(written.deliveries[key]) is None
            continue
        items = store.delivery_items(written.deliveries[key])
        assert [described(i) for i in items] == [expected_item(s, written, row) for row in group]
        sent = store.delivery(written.deliveries[key])
        assert sent is not None
        assert sent.state is OutboxState.SENT
    assert store.outbox_counts()[OutboxState.PENDING] == 0
    # What a poll saw (the health columns) is checked against version 5's writer, not here.
    assert [
        dataclasses.replace(st, **{f: getattr(SourceState(st.source), f) for f in HEALTH_FIELDS})
        for st in store.source_states()
    ] == [
        SourceState("other-source", T1, None, "HTTP 503", T1, 3),
        SourceState(SRC, T1, T1, None, None, 0),
    ]
    # A lease row an older release left (a holder and the end of its term) holds nothing
    # now: no process holds its lock, so the source is free, and the next holder is named.
    assert store.lease_holder(SRC) is None
    assert store.lease(SRC, "replica-b", T2)
    assert store.lease_holder(SRC) == LeaseInfo("replica-b", T2)
    store.release(SRC)
    assert store.lease_holder(SRC) is None


def described(item: Any) -> tuple[Any, ...]:
    return (item.ledger_id, item.event, dict(item.hits), item.created)


def expected_item(s: Seed, written: Written, row: tuple[str, int]) -> tuple[Any, ...]:
    _sub, n = row
    e = s.events[n]
    return (
        written.ledger[row],
        e,
        s.matches[n],
        T0 if e.type is EventType.TABLED else T1,
    )


def live(query: str, records: Sequence[Record]) -> list[str]:
    q = parse(query)
    return sorted(r.key for r in records if match_document(q, Document.from_record(r)))


QUERIES = ["staff", '"special educational needs"', "prison*", "river tame", "pollution OR waste"]


def check_search(store: Store, s: Seed) -> None:
    for query in QUERIES:
        found = backtest.search(store, parse(query))
        assert sorted(c.key for c in found.matched) == live(query, s.current), query
        assert found.matched, query
    assert len(store.candidates(None, source=SRC)) == len(s.current)
    inputs = store.match_inputs(SRC, [r.key for r in s.current])
    for r in s.current:
        assert inputs[r.key].fields() == r.fields()
        assert Document.from_record(inputs[r.key]).meta == Metadata.of(r)


def index_rows(url: str) -> list[tuple[Any, ...]]:
    with engine_on(url) as engine, engine.connect() as conn:
        words = "words::text" if conn.dialect.name == "postgresql" else "words"
        found = conn.exec_driver_sql(
            f"SELECT source, key, fingerprint, day, {words} FROM record_words ORDER BY source, key"
        )
        return [tuple(row) for row in found]


def index_rows_as_committed(url: str, s: Seed) -> list[tuple[Any, ...]]:
    """The index rows of the seed's records committed to a new store today."""
    store = open_store(url)
    try:
        store.migrate()
        store.commit_records(SRC, [(r, f"listed-{r.key}") for r in s.current], T1)
    finally:
        store.close()
    return index_rows(url)


def check_new_poll(store: Store, s: Seed, written: Written) -> None:
    holding = next(r for r in s.current if r.key == "1690002")
    answered = revise(
        holding,
        status=Status.ANSWERED,
        answer=Text(
            "<p>Recruitment of zeppelin-trained psychologists continues.</p>",
            "Recruitment of zeppelin-trained psychologists continues.",
        ),
        date_answered=T2.date(),
    )
    new = revise(
        holding, key="1700001", uin="HL9999", title="Zeppelins: Staff", date_tabled=T2.date()
    )
    events = [
        Event(EventType.ANSWERED, answered, previous=holding, replaces_holding=True),
        Event(EventType.TABLED, new),
    ]
    hits = (Hit("answer", 0, 11, "recruitment"),)
    summary = store.commit(
        PollOutcome(
            source=SRC,
            started=T2,
            records=[(answered, "listed-new"), (new, "listed-new")],
            events=events,
            matches=[Match("staff", e, hits) for e in events],
            ledger=[LedgerEntry("alice", e.identity) for e in events],
            health=PollHealth(
                listed=2,
                new=1,
                parse_errors=0,
                failing_since=None,
                incidents={Kind.SILENT: T0},
                notices=[("ops", Notice(SRC, Kind.SILENT, True, T0, T2, "nothing new for 40h"))],
            ),
        )
    )
    assert (summary.records, summary.events, summary.ledger) == (2, 2, 2)
    state = store.source_state(SRC)
    assert (state.items_listed, state.items_new, state.last_new_at) == (2, 1, T2)
    assert state.incidents == {Kind.SILENT: T0}
    [stored] = [n for n in store.unsent_notices("ops", T2) if n.notice.source == SRC]
    assert stored.notice == Notice(SRC, Kind.SILENT, True, T0, T2, "nothing new for 40h")
    assert store.current(SRC, ["1690002", "1700001"]) == {"1690002": answered, "1700001": new}
    pending = store.pending("alice", T2 + timedelta(minutes=1))
    assert [(i.event, dict(i.hits)) for i in pending[-2:]] == [(e, {"staff": hits}) for e in events]
    found = backtest.search(store, parse("zeppelin*"))
    assert sorted(c.key for c in found.matched) == ["1690002", "1700001"]
    assert store.source_state(SRC).last_poll == T2

    # Old pending rows and new ones go out together.
    ids = [i.ledger_id for i in pending]
    d = store.create_delivery(
        "alice",
        "alice-2024-03-20",
        ids,
        T2,
        T2,
        Outgoing("email", ("a@example.org",), "email", message_to_json(Message("m")), len(ids)),
    )
    assert d is not None
    assert [i.ledger_id for i in store.delivery_items(d.id)] == ids
    assert store.pending("alice", T2 + timedelta(minutes=1)) == []


def test_the_newest_writer_fills_every_table_of_the_latest_version(store_url: str) -> None:
    # So that the upgrade from this version, once a later one exists, starts with rows.
    at_version(store_url, latest_version())
    write_at(store_url, latest_version(), seed())
    found = rows(store_url)
    assert [name for name, got in found.items() if not got] == []
    assert set(found) >= {t for t in tables.metadata.tables if not t.startswith("record_words")}


def test_several_processes_upgrade_one_old_database_at_once(store_url: str) -> None:
    s = seed()
    at_version(store_url, 1)
    write_at(store_url, 1, s)
    stores = [open_store(store_url) for _ in range(3)]
    try:
        barrier = threading.Barrier(len(stores))

        def run(store: Store) -> None:
            barrier.wait(timeout=10)
            store.migrate()

        with ThreadPoolExecutor(len(stores)) as pool:
            for f in [pool.submit(run, store) for store in stores]:
                f.result(timeout=60)
        assert stores[0].schema_status().applied == tuple(m.version for m in MIGRATIONS)
        with engine_on(store_url) as engine, engine.connect() as conn:
            applied = conn.execute(text("SELECT version FROM schema_migrations")).scalars()
            assert sorted(applied) == [m.version for m in MIGRATIONS]
            indexed = conn.execute(text("SELECT count(*) FROM record_words")).scalar_one()
            assert indexed == len(s.current)
        check_search(stores[1], s)
    finally:
        for store in stores:
            store.close()


# --- the read-only look ---------------------------------------------------------------------


ALL_PENDING = tuple(PendingMigration(m.version, m.name) for m in MIGRATIONS)


def test_schema_status_of_a_new_sqlite_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "watcher.db"
    store = open_store(f"sqlite:///{path}")
    try:
        status = store.schema_status()
        assert status == SchemaStatus(exists=False, applied=(), pending=ALL_PENDING)
        assert not status.up_to_date
        assert list(tmp_path.iterdir()) == []
        store.migrate()
        assert store.schema_status() == SchemaStatus(
            exists=True, applied=tuple(m.version for m in MIGRATIONS)
        )
    finally:
        store.close()


def test_schema_status_reads_an_sqlite_file_without_changing_it(tmp_path: Path) -> None:
    path = tmp_path / "watcher.db"
    url = f"sqlite:///{path}"
    at_version(url, 1)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    store = open_store(url)
    try:
        status = store.schema_status()
        assert status == SchemaStatus(exists=True, applied=(1,), pending=ALL_PENDING[1:])
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    finally:
        store.close()


def test_schema_status_of_an_empty_database_has_every_migration_pending(
    store_url: str,
) -> None:
    if store_url.startswith("sqlite"):
        with engine_on(store_url) as engine:  # an empty file: what an SQLite tool leaves
            sqlite_directory(engine.url)
            Path(make_url(store_url).database or "").touch()
    store = open_store(store_url)
    try:
        assert store.schema_status() == SchemaStatus(exists=True, pending=ALL_PENDING)
        with engine_on(store_url) as engine:
            assert inspect(engine).get_table_names() == []
    finally:
        store.close()


def test_schema_status_names_versions_a_newer_release_applied(store: Store, store_url: str) -> None:
    with engine_on(store_url) as engine, engine.begin() as conn:
        conn.execute(
            insert(v1.schema_migrations), {"version": 99, "name": "future", "applied_at": T2}
        )
    status = store.schema_status()
    assert (status.pending, status.unknown) == ((), (99,))
    assert status.applied == (*(m.version for m in MIGRATIONS), 99)
