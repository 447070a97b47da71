"""The store conformance suite: every test runs on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from watcher.errors import StoreError, StoreUnavailableError
from watcher.incidents import Kind, Notice
from watcher.kinds.questions import written_question
from watcher.model import Event, EventType, Hit, Match, Record, Status, Text
from watcher.store import (
    LeaseInfo,
    LedgerEntry,
    PollHealth,
    PollOutcome,
    SourceState,
    Store,
    open_store,
)
from watcher.store import schema as tables
from watcher.store.engine import sqlite_directory, store_engine
from watcher.store.migrations import MIGRATIONS

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SRC = "wq"
R = TypeVar("R")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rec(
    key: str = "1",
    *,
    answer: str | None = None,
    title: str = "SEND workforce",
    status: Status | None = None,
) -> Record:
    return written_question(
        source=SRC,
        key=key,
        kind="written_question",
        title=title,
        url=f"https://questions.example/{key}",
        status=status or (Status.ANSWERED if answer else Status.TABLED),
        uin=f"U{key}",
        department="Department for Education",
        question=Text(
            html="<p>What is the SEND workforce?</p>", plain="What is the SEND workforce?"
        ),
        answer=Text(html=f"<p>{answer}</p>", plain=answer) if answer else None,
    )


def ev(
    record: Record,
    type_: EventType = EventType.TABLED,
    previous: Record | None = None,
    *,
    replaces_holding: bool = False,
) -> Event:
    return Event(type=type_, record=record, previous=previous, replaces_holding=replaces_holding)


HITS = (Hit("title", 0, 14, "SEND workforce"),)


def poll(
    started: datetime,
    events: Sequence[Event] = (),
    subs: Sequence[str] = ("alice",),
    *,
    records: Sequence[tuple[Record, str]] | None = None,
    rule: str = "send",
    error: str | None = None,
) -> PollOutcome:
    """A poll that stored the events' records, matched each to ``rule`` and owes it to ``subs``."""
    if records is None:
        records = [(e.record, f"listed-{e.record.fingerprint}") for e in events]
    return PollOutcome(
        source=SRC,
        started=started,
        records=records,
        events=events,
        matches=[Match(rule, e, HITS) for e in events],
        ledger=[LedgerEntry(s, e.identity) for e in events for s in subs],
        error=error,
    )


def count(url: str, table: str) -> int:
    engine = store_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(tables.metadata.tables[table])
                ).scalar_one()
            )
    finally:
        engine.dispose()


def together(calls: Sequence[Callable[[], R]]) -> list[R]:
    """Run the calls in threads released at the same instant; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], R]) -> R:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(timeout=30) for f in [pool.submit(run, c) for c in calls]]


# --- schema ---------------------------------------------------------------------------------


def test_migrate_again_keeps_data_and_records_each_version_once(
    store: Store, store_url: str
) -> None:
    store.commit(poll(at(0), [ev(rec())]))
    store.migrate()
    store.migrate()
    assert count(store_url, "schema_migrations") == len(MIGRATIONS)
    assert list(store.current(SRC, ["1"])) == ["1"]
    assert len(store.pending("alice", at(1))) == 1


def test_two_processes_can_migrate_at_once(store_url: str) -> None:
    a, b = open_store(store_url), open_store(store_url)
    try:
        together([a.migrate, b.migrate])
        assert count(store_url, "schema_migrations") == len(MIGRATIONS)
        assert a.commit(poll(at(0), [ev(rec())])).events == 1
        assert b.current(SRC, ["1"])["1"] == rec()
    finally:
        a.close()
        b.close()


def test_migrations_build_the_schema_the_code_queries(store: Store, store_url: str) -> None:
    engine = store_engine(store_url)
    try:
        found = inspect(engine)
        for table in tables.metadata.sorted_tables:
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
    finally:
        engine.dispose()


def test_an_unmigrated_store_raises_store_error(store_url: str) -> None:
    sqlite_directory(make_url(store_url))  # reachable: only the tables are missing
    s = open_store(store_url)
    try:
        with pytest.raises(StoreError) as info:
            s.source_state(SRC)
        assert info.value.__cause__ is not None
        assert not isinstance(info.value, StoreUnavailableError)
    finally:
        s.close()


# --- commit -----------------------------------------------------------------------------------


def test_committing_the_same_poll_twice_changes_nothing(store: Store, store_url: str) -> None:
    outcome = poll(at(0), [ev(rec("1")), ev(rec("2"))], subs=("alice", "bob"))
    first = store.commit(outcome)
    second = store.commit(outcome)
    assert (first.records, first.events, first.ledger) == (2, 2, 4)
    assert (second.records, second.events, second.ledger) == (0, 0, 0)
    for table, rows in [
        ("record", 2),
        ("record_version", 2),
        ("event", 2),
        ("event_match", 2),
        ("ledger", 4),
    ]:
        assert count(store_url, table) == rows, table
    assert store.source_state(SRC).error_count == 0


def test_every_version_is_kept_and_an_event_shows_the_one_it_replaced(store: Store) -> None:
    tabled = rec("1")
    holding = rec("1", answer="I will reply shortly.", status=Status.HOLDING)
    answered = rec("1", answer="There are 1,234 SEND specialists.")
    store.commit(poll(at(0), [ev(tabled)]))
    store.commit(poll(at(10), [ev(holding, EventType.HOLDING, tabled)]))
    summary = store.commit(
        poll(at(20), [ev(answered, EventType.ANSWERED, holding, replaces_holding=True)])
    )
    assert (summary.records, summary.events) == (1, 1)

    items = store.pending("alice", at(30))
    assert [(i.event.type, i.event.record, i.event.previous) for i in items] == [
        (EventType.TABLED, tabled, None),
        (EventType.HOLDING, holding, tabled),
        (EventType.ANSWERED, answered, holding),
    ]
    assert items[2].event.replaces_holding
    assert items[2].event.identity == ev(answered, EventType.ANSWERED).identity
    assert store.current(SRC, ["1"]) == {"1": answered}


def test_a_previous_version_never_stored_is_stored_with_the_event(store: Store) -> None:
    before, after = rec("9", answer="First."), rec("9", answer="Corrected.")
    store.commit(poll(at(0), [ev(after, EventType.CORRECTED, before)]))
    [item] = store.pending("alice", at(1))
    assert item.event.previous == before


def test_listed_fingerprint_follows_the_listing_even_when_the_record_is_unchanged(
    store: Store,
) -> None:
    r = rec("1")
    store.commit(poll(at(0), [ev(r)], records=[(r, "listed-a")]))
    again = store.commit(poll(at(10), records=[(r, "listed-b")]))
    assert again.records == 0
    assert store.listed_fingerprints(SRC, ["1", "never-seen"]) == {"1": "listed-b"}
    assert store.listed_fingerprints("other-source", ["1"]) == {}


def test_current_is_the_latest_version_and_a_late_older_poll_does_not_roll_it_back(
    store: Store,
) -> None:
    old, new = rec("1"), rec("1", answer="Answered.")
    store.commit(poll(at(10), records=[(new, "listed-new")]))
    store.commit(poll(at(0), records=[(old, "listed-old")]))
    assert store.current(SRC, ["1", "2"]) == {"1": new}
    assert store.listed_fingerprints(SRC, ["1"]) == {"1": "listed-new"}


def test_many_keys_are_read_back(store: Store) -> None:
    records = [rec(str(n)) for n in range(1200)]
    store.commit(poll(at(0), records=[(r, r.key) for r in records]))
    keys = [r.key for r in records]
    assert store.current(SRC, keys) == {r.key: r for r in records}
    assert store.listed_fingerprints(SRC, iter(keys)) == {k: k for k in keys}


def test_a_ledger_row_is_unique_per_subscription_and_event(store: Store, store_url: str) -> None:
    e = ev(rec("1"))
    outcome = poll(at(0), [e], subs=("alice", "alice", "bob"))
    assert store.commit(outcome).ledger == 2
    assert store.commit(poll(at(10), [e], subs=("alice", "carol"))).ledger == 1
    assert count(store_url, "ledger") == 3
    assert [len(store.pending(s, at(20))) for s in ("alice", "bob", "carol")] == [1, 1, 1]


def test_a_ledger_entry_for_an_unknown_event_fails_the_whole_commit(store: Store) -> None:
    e = ev(rec("1"))
    bad = PollOutcome(
        source=SRC,
        started=at(0),
        records=[(e.record, "l")],
        events=[e],
        ledger=[LedgerEntry("alice", ev(rec("2")).identity)],
    )
    with pytest.raises(StoreError):
        store.commit(bad)
    assert store.current(SRC, ["1"]) == {}
    assert store.source_state(SRC) == SourceState(SRC)


def test_a_partial_poll_keeps_its_records_and_records_the_error(store: Store) -> None:
    summary = store.commit(poll(at(0), [ev(rec("1"))], error="page 3: HTTP 503"))
    assert (summary.records, summary.events, summary.ledger) == (1, 1, 1)
    assert store.current(SRC, ["1"]) == {"1": rec("1")}
    assert len(store.pending("alice", at(1))) == 1
    state = store.source_state(SRC)
    assert (state.last_poll, state.last_ok, state.last_error, state.error_count) == (
        at(0),
        None,
        "page 3: HTTP 503",
        1,
    )


# --- source state and leases ----------------------------------------------------------------


def test_source_state_records_errors_and_a_good_poll_clears_them(store: Store) -> None:
    assert store.source_state(SRC) == SourceState(SRC)
    store.record_error(SRC, "timeout", at(0))
    store.commit(poll(at(10), error="HTTP 500"))
    state = store.source_state(SRC)
    assert (state.last_poll, state.last_error, state.last_error_at, state.error_count) == (
        at(10),
        "HTTP 500",
        at(10),
        2,
    )
    assert state.last_ok is None

    store.commit(poll(at(20)))
    state = store.source_state(SRC)
    assert (state.last_poll, state.last_ok, state.last_error, state.error_count) == (
        at(20),
        at(20),
        None,
        0,
    )
    store.record_error("other", "DNS", at(30))
    assert [s.source for s in store.source_states()] == ["other", SRC]


def test_a_sources_cursor_is_kept_until_a_listing_gives_a_new_one(store: Store) -> None:
    assert store.source_state(SRC).cursor is None
    etag = {"etag": '"abc"', "last_modified": "Mon, 15 Jan 2024 09:00:00 GMT"}
    store.commit(dataclasses.replace(poll(at(0)), cursor=etag))
    assert store.source_state(SRC).cursor == etag
    store.commit(poll(at(10)))  # a listing that said nothing new about where it got to
    assert store.source_state(SRC).cursor == etag
    store.commit(dataclasses.replace(poll(at(20), error="HTTP 500"), cursor={"etag": '"def"'}))
    assert store.source_state(SRC).cursor == {"etag": '"def"'}
    store.commit(dataclasses.replace(poll(at(5)), cursor={"etag": "stale"}))  # a late, older poll
    assert store.source_state(SRC).cursor == {"etag": '"def"'}


def test_the_same_failed_poll_committed_twice_counts_once(store: Store) -> None:
    failed = poll(at(0), error="HTTP 500")
    store.commit(failed)
    store.commit(failed)
    assert store.source_state(SRC).error_count == 1


def test_times_come_back_as_utc_and_naive_times_are_refused(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    store.record_error(SRC, "x", datetime(2025, 3, 3, 10, 0, tzinfo=paris))
    last_poll = store.source_state(SRC).last_poll
    assert last_poll == T0
    assert last_poll is not None
    assert last_poll.utcoffset() == timedelta(0)
    with pytest.raises(StoreError):
        store.record_error(SRC, "x", datetime(2025, 3, 3, 10, 0))


def health(
    listed: int = 10,
    new: int = 0,
    *,
    parse_errors: int = 0,
    failing_since: datetime | None = None,
    incidents: dict[Kind, datetime] | None = None,
    notices: Sequence[tuple[str, Notice]] = (),
) -> PollHealth:
    return PollHealth(listed, new, parse_errors, failing_since, incidents or {}, notices)


def test_a_polls_health_is_kept_and_last_new_at_moves_only_when_something_was_new(
    store: Store,
) -> None:
    store.commit(dataclasses.replace(poll(at(0)), health=health(12, 3, parse_errors=1)))
    state = store.source_state(SRC)
    assert (state.items_listed, state.items_new, state.parse_errors) == (12, 3, 1)
    assert (state.last_new_at, state.first_poll, state.incidents) == (at(0), at(0), {})

    failing = {Kind.FAILING: at(10), Kind.SILENT: at(0)}
    store.commit(
        dataclasses.replace(
            poll(at(20), error="HTTP 500"),
            health=health(0, 0, failing_since=at(10), incidents=failing),
        )
    )
    state = store.source_state(SRC)
    assert (state.items_listed, state.items_new, state.last_new_at) == (0, 0, at(0))
    assert (state.first_poll, state.failing_since, state.incidents) == (at(0), at(10), failing)
    store.commit(poll(at(30)))  # no health given: it stays as it was
    assert store.source_state(SRC).incidents == failing
    store.commit(dataclasses.replace(poll(at(5)), health=health(1, 1)))  # a late, older poll
    assert store.source_state(SRC).last_new_at == at(0)


def test_a_notice_is_stored_once_and_kept_until_it_is_marked_sent(store: Store) -> None:
    down = Notice(SRC, Kind.FAILING, True, at(0), at(30), "3 failed polls in a row: HTTP 500")
    up = Notice(SRC, Kind.FAILING, False, at(0), at(40), "polled successfully")
    outcome = dataclasses.replace(
        poll(at(30), error="HTTP 500"),
        health=health(incidents={Kind.FAILING: at(0)}, notices=[("ops", down), ("pager", down)]),
    )
    store.commit(outcome)
    store.commit(outcome)  # again: nothing new
    [first] = store.unsent_notices("ops", at(30))
    assert (first.notice, first.attempts, first.sent) == (down, 0, None)
    assert len(store.unsent_notices("pager", at(30))) == 1

    store.mark_notice(first.id, at(31), error="SMTP 451", next_attempt=at(35))
    assert store.unsent_notices("ops", at(34)) == []
    [retry] = store.unsent_notices("ops", at(35))
    assert (retry.attempts, retry.last_error, retry.next_attempt) == (1, "SMTP 451", at(35))
    store.mark_notice(first.id, at(35))
    store.mark_notice(first.id, at(36))  # a repeat is harmless
    assert store.unsent_notices("ops", at(99)) == []
    assert len(store.unsent_notices("pager", at(99))) == 1

    store.commit(dataclasses.replace(poll(at(40)), health=health(notices=[("ops", up)])))
    assert [n.notice for n in store.unsent_notices("ops", at(99))] == [up]
    with pytest.raises(StoreError):
        store.mark_notice(999_999, at(50))


def test_a_lease_has_one_holder_until_it_is_released(store_url: str, store: Store) -> None:
    other = open_store(store_url)  # another replica: a store of its own on the same database
    try:
        assert store.lease_holder(SRC) is None
        assert store.lease(SRC, "a", at(0))
        assert other.lease_holder(SRC) == store.lease_holder(SRC) == LeaseInfo("a", at(0))
        assert not other.lease(SRC, "b", at(5))
        assert not store.lease(SRC, "a", at(5))  # one poll at a time, in one process too
        other.release(SRC)  # not other's to release: nothing happens
        assert not other.lease(SRC, "b", at(5))
        assert other.lease("other", "b", at(5))  # leases are per source

        store.release(SRC)
        assert other.lease_holder(SRC) is None
        assert other.lease(SRC, "b", at(6))
        assert store.lease_holder(SRC) == LeaseInfo("b", at(6))
        assert store.source_state(SRC).error_count == 0
    finally:
        other.close()  # lets go of every lease it holds
    assert store.lease_holder(SRC) is None
    assert store.lease(SRC, "a", at(7))


def test_concurrent_leases_have_one_winner(store_url: str, store: Store) -> None:
    others = [open_store(store_url) for _ in range(4)]
    try:
        won = together([partial(s.lease, SRC, f"replica-{n}", at(0)) for n, s in enumerate(others)])
        assert sorted(won) == [False, False, False, True]
    finally:
        for s in others:
            s.close()


HOLD = """
import sys
from datetime import UTC, datetime
from watcher.store import open_store
store = open_store(sys.argv[1])
assert store.lease(sys.argv[2], "doomed:1", datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
print("held", flush=True)
sys.stdin.read()  # until killed
"""


def test_a_lease_held_by_a_process_killed_with_sigkill_is_free_at_once(
    store_url: str, store: Store
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, store_url, SRC],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "held\n"
            assert store.lease_holder(SRC) == LeaseInfo("doomed:1", at(0))
            assert not store.lease(SRC, "survivor", at(1))
        finally:
            child.kill()  # SIGKILL: no handler, no clean-up, no release
            child.wait(timeout=30)
    # The kernel closes the child's files at once; a PostgreSQL server ends the session when
    # it reads the closed socket, a moment later. Either way: seconds, not a lease's term.
    deadline = time.monotonic() + 5
    while not store.lease(SRC, "survivor", at(1)):
        assert time.monotonic() < deadline, "the killed process's lease was not let go"
        time.sleep(0.05)
    assert store.lease_holder(SRC) == LeaseInfo("survivor", at(1))


def test_an_in_memory_store_leases_within_its_process() -> None:
    s = open_store("sqlite://")
    try:
        s.migrate()
        assert s.lease(SRC, "a", at(0))
        assert s.lease_holder(SRC) == LeaseInfo("a", at(0))
        assert not s.lease(SRC, "b", at(1))
        s.release(SRC)
        assert s.lease_holder(SRC) is None
        assert s.lease(SRC, "b", at(2))
    finally:
        s.close()


def test_sqlite_lease_files_sit_beside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "data" / "watcher.db"
    s = open_store(f"sqlite:///{path}")
    try:
        s.migrate()
        for source in ("wq", "../../escape", "a/b"):
            assert s.lease(source, "a", at(0))
        assert sorted(p.name for p in (tmp_path / "data" / "watcher.db.leases").iterdir()) == [
            "..%2F..%2Fescape.lock",
            "a%2Fb.lock",
            "wq.lock",
        ]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    finally:
        s.close()


# --- sending half -------------------------------------------------------------------------------


def test_pending_is_oldest_first_unclaimed_and_before_the_cutoff(store: Store) -> None:
    store.commit(poll(at(20), [ev(rec("3"))]))
    store.commit(poll(at(0), [ev(rec("1"))]))
    store.commit(poll(at(10), [ev(rec("2"))], subs=("alice", "bob")))
    items = store.pending("alice", before=at(20))  # the cutoff is exclusive
    assert [(i.event.record.key, i.created) for i in items] == [("1", at(0)), ("2", at(10))]
    assert [i.event.record.key for i in store.pending("bob", at(60))] == ["2"]
    assert store.pending("nobody", at(60)) == []


def test_pending_items_carry_every_rules_hits(store: Store) -> None:
    e = ev(rec("1"))
    other = (Hit("question", 12, 26, "SEND workforce"), Hit("title", 0, 4, "send"))
    store.commit(
        PollOutcome(
            source=SRC,
            started=at(0),
            records=[(e.record, "l")],
            events=[e],
            matches=[Match("send", e, HITS), Match("workforce", e, other)],
            ledger=[LedgerEntry("alice", e.identity)],
        )
    )
    [item] = store.pending("alice", at(1))
    assert dict(item.hits) == {"send": HITS, "workforce": other}


def _owed(store: Store, n: int, sub: str = "alice", start: int = 0) -> list[int]:
    store.commit(poll(at(start), [ev(rec(f"{sub}-{start}-{k}")) for k in range(n)], subs=(sub,)))
    return [i.ledger_id for i in store.pending(sub, at(start + 1))]


# --- SQLite specifics -------------------------------------------------------------------------


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = f"{tmp_path}/a/b/watcher.db"
    s = open_store(f"sqlite:///{path}")
    try:
        s.migrate()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        raw.close()
    finally:
        s.close()


def test_in_memory_sqlite_is_one_database_for_every_thread() -> None:
    s = open_store("sqlite://")
    try:
        s.migrate()
        s.commit(poll(at(0), [ev(rec())]))
        found = together([partial(s.current, SRC, ["1"]) for _ in range(4)])
        assert found == [{"1": rec()}] * 4
    finally:
        s.close()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_an_unusable_url_raises_store_error(url: str) -> None:
    with pytest.raises(StoreError):
        open_store(url)


# --- a store that cannot be reached -----------------------------------------------------------

# Every method of the Store protocol, called as a caller would.
CALLS: dict[str, Callable[[Store], object]] = {
    "migrate": lambda s: s.migrate(),
    "schema_status": lambda s: s.schema_status(),
    "source_state": lambda s: s.source_state(SRC),
    "source_states": lambda s: s.source_states(),
    "lease": lambda s: s.lease(SRC, "a", at(0)),
    "release": lambda s: s.release(SRC),
    "lease_holder": lambda s: s.lease_holder(SRC),
    "listed_fingerprints": lambda s: s.listed_fingerprints(SRC, ["1"]),
    "current": lambda s: s.current(SRC, ["1"]),
    "commit": lambda s: s.commit(poll(at(0), [ev(rec())])),
    "record_error": lambda s: s.record_error(SRC, "timeout", at(0)),
    "commit_records": lambda s: s.commit_records(SRC, [(rec(), "l")], at(0)),
    "candidates": lambda s: s.candidates(None),
    "match_inputs": lambda s: s.match_inputs(SRC, ["1"]),
    "stored_span": lambda s: s.stored_span(),
    "pending": lambda s: s.pending("alice", at(0)),
    "create_delivery": lambda s: s.create_delivery("alice", "k", [1], at(0), at(0), None),
    "claim_due": lambda s: s.claim_due("a", at(0)),
    "pending_many": lambda s: s.pending_many(["alice"], at(0)),
    "create_deliveries": lambda s: s.create_deliveries([], at(0)),
    "mark_sent_many": lambda s: s.mark_sent_many([1], at(0)),
    "renew_claims": lambda s: s.renew_claims([1], "a", at(0)),
    "delivery_items": lambda s: s.delivery_items(1),
    "mark_sent": lambda s: s.mark_sent(1, at(0)),
    "mark_failed": lambda s: s.mark_failed(1, "x", at(0), at(1)),
    "mark_dead": lambda s: s.mark_dead(1, "x", at(0)),
    "defer": lambda s: s.defer(1, at(1), at(0)),
    "outbox": lambda s: s.outbox(),
    "delivery": lambda s: s.delivery(1),
    "revive": lambda s: s.revive(None, at(0)),
    "drop": lambda s: s.drop(1, at(0)),
    "outbox_counts": lambda s: s.outbox_counts(),
    "next_due": lambda s: s.next_due(),
    "first_reports": lambda s: s.first_reports("alice", [(SRC, "1")]),
    "unsent_notices": lambda s: s.unsent_notices("ops", at(0)),
    "mark_notice": lambda s: s.mark_notice(1, at(0)),
}
# Releasing a lease this store does not hold has nothing to do: it touches no database.
TOUCH_THE_STORE = sorted(set(CALLS) - {"release"})
PASSWORD = "s3cret-pw"
POSTGRES_ENV = "WATCHER_TEST_POSTGRES_URL"


def test_every_store_method_is_called_below() -> None:
    methods = {name for name in vars(Store) if not name.startswith("_")} - {"close"}
    assert methods == set(CALLS), "add the new method to CALLS"


def closed_port() -> int:
    """A local port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_unavailable(call: Callable[[], object], message: str) -> StoreUnavailableError:
    with pytest.raises(StoreUnavailableError) as info:
        call()
    assert str(info.value) == message
    return info.value


@pytest.mark.parametrize("method", TOUCH_THE_STORE)
def test_a_refused_connection_is_unavailable_in_one_line_without_the_password(
    method: str,
) -> None:
    port = closed_port()
    s = open_store(f"postgresql://watcher:{PASSWORD}@127.0.0.1:{port}/watcher?connect_timeout=2")
    try:
        error = assert_unavailable(
            partial(CALLS[method], s),
            f'connection to server at "127.0.0.1", port {port} failed: Connection refused',
        )
        assert error.__cause__ is not None
    finally:
        s.close()


@pytest.mark.parametrize("method", TOUCH_THE_STORE)
def test_an_sqlite_path_under_a_regular_file_is_unavailable(tmp_path: Path, method: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    path = tmp_path / "file" / "data" / "watcher.db"
    s = open_store(f"sqlite:///{path}")
    try:
        if method == "migrate":
            expected = (
                f"cannot create directory {path.parent} for the SQLite store: Not a directory"
            )
        elif method == "lease":  # its lock file comes first, beside the database
            expected = f"cannot create the lease directory {path}.leases: Not a directory"
        else:
            expected = f"cannot create the SQLite store {path}: Not a directory"
        assert_unavailable(partial(CALLS[method], s), expected)
    finally:
        s.close()


def test_releasing_a_lease_not_held_touches_no_database(tmp_path: Path) -> None:
    for url in (
        f"postgresql://watcher:{PASSWORD}@127.0.0.1:{closed_port()}/watcher",
        f"sqlite:///{tmp_path / 'file' / 'watcher.db'}",
    ):
        s = open_store(url)
        s.release(SRC)
        s.close()
    assert list(tmp_path.iterdir()) == []


def test_open_store_touches_neither_the_disk_nor_the_network(tmp_path: Path) -> None:
    path = tmp_path / "data" / "watcher.db"
    s = open_store(f"sqlite:///{path}")
    s.close()
    assert list(tmp_path.iterdir()) == []
    s = open_store(f"postgresql://u@127.0.0.1:{closed_port()}/db")  # connects only when used
    s.close()
    s = open_store(f"sqlite:///{path}")
    try:
        s.migrate()  # the first write creates the directory and the file
        assert path.is_file()
    finally:
        s.close()


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (the kernel does), answers nothing
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        s = open_store(f"postgresql://u:{PASSWORD}@127.0.0.1:{port}/db?connect_timeout=1")
        try:
            assert_unavailable(s.schema_status, "connection timeout expired")
        finally:
            s.close()


def test_an_unknown_host_is_unavailable() -> None:
    s = open_store(f"postgresql://u:{PASSWORD}@watcher-no-such-host.invalid/db?connect_timeout=2")
    try:
        with pytest.raises(StoreUnavailableError) as info:
            s.migrate()
        message = str(info.value)
        assert message.startswith("failed to resolve host 'watcher-no-such-host.invalid'")
        assert "\n" not in message
        assert PASSWORD not in message
    finally:
        s.close()


def _postgres(**changes: str) -> tuple[str, str]:
    """The test server's URL with ``changes`` (and a password), and its 'host, port' part of
    libpq's messages."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (PostgreSQL store tests need it)")
    url = make_url(base).set(password=PASSWORD, **changes)  # type: ignore[arg-type]
    return url.render_as_string(hide_password=False), (
        f'connection to server at "{url.host}", port {url.port or 5432} failed'
    )


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_unavailable() -> None:
    url, server = _postgres(database="watcher_no_such_database")
    s = open_store(url)
    try:
        assert_unavailable(
            s.migrate, f'{server}: FATAL:  database "watcher_no_such_database" does not exist'
        )
    finally:
        s.close()


@pytest.mark.postgres
def test_a_user_the_server_refuses_is_unavailable() -> None:
    url, server = _postgres(username="watcher_no_such_role")
    s = open_store(url)
    try:
        with pytest.raises(StoreUnavailableError) as info:
            s.source_states()
        message = str(info.value)
        # "role ... does not exist" under trust authentication, "password authentication
        # failed" under password authentication: either way the server said no, at once.
        assert message.startswith(f"{server}: FATAL:  ")
        assert "watcher_no_such_role" in message
        assert PASSWORD not in message
    finally:
        s.close()


def test_an_sqlite_path_that_is_a_directory_is_unavailable(tmp_path: Path) -> None:
    s = open_store(f"sqlite:///{tmp_path}")
    try:
        for call in (s.migrate, s.schema_status, s.source_states):
            assert_unavailable(call, f"cannot open the SQLite store {tmp_path}: Is a directory")
    finally:
        s.close()


def test_a_file_that_is_not_an_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "watcher.db"
    path.write_text("watcher: not a database\n" * 100)
    s = open_store(f"sqlite:///{path}")
    try:
        for call in (s.migrate, s.schema_status, s.source_states):
            assert_unavailable(call, f"cannot open the SQLite store {path}: file is not a database")
        assert path.read_text() == "watcher: not a database\n" * 100
    finally:
        s.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc")
def test_an_sqlite_directory_that_cannot_be_created_is_unavailable() -> None:
    # Even root cannot create a directory in /proc.
    s = open_store("sqlite:////proc/watcher-test/watcher.db")
    try:
        assert_unavailable(
            s.migrate,
            "cannot create directory /proc/watcher-test for the SQLite store: "
            "No such file or directory",
        )
    finally:
        s.close()


def test_an_sqlite_file_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "watcher.db"
    s = open_store(f"sqlite:///{path}")
    s.migrate()
    s.close()
    # Root writes through permissions; an immutable file refuses even root.
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not available here")
    s = open_store(f"sqlite:///{path}")
    try:
        assert s.source_states() == []  # reading still works
        assert_unavailable(
            partial(s.record_error, SRC, "x", at(0)),
            f"cannot write the SQLite store {path}: Operation not permitted",
        )
        assert_unavailable(
            s.schema_status, f"cannot open the SQLite store {path}: Operation not permitted"
        )
    finally:
        s.close()
        subprocess.run(["chattr", "-i", str(path)], check=True)
