"""``SqlStore``: the ``Store`` contract (``store/base.py``) over SQLAlchemy Core, for SQLite and
PostgreSQL alike.

Each method is one transaction; every SQLAlchemy error leaving it becomes ``StoreError``, or
``StoreUnavailableError`` when the database cannot be reached or opened (``failures``). The
statements and row conversions live in ``queries``, the tables in ``schema``, engine set-up per
backend in ``engine``, the locks behind polling leases in ``leases``. Deciding what to commit,
claim or retry is left to the pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from watcher.errors import StoreError
from watcher.model import Event, Record
from watcher.store import (
    failures,
    fulltext,
    leases,
    migrations,
    outbox,
    queries,
    records,
    status,
)
from watcher.store.base import (
    CLAIM_FOR,
    Candidate,
    Claim,
    CommitSummary,
    Delivery,
    LeaseInfo,
    MatchInput,
    OutboxState,
    Outgoing,
    PendingItem,
    PollOutcome,
    SchemaStatus,
    SearchWord,
    SourceState,
    StoredNotice,
    StoredSpan,
)
from watcher.store.engine import READ_ONLY, sqlite_directory
from watcher.store.schema import (
    event,
    event_match,
    ledger,
    notice,
    record,
    source_state,
)

logger = logging.getLogger(__name__)


class SqlStore:
    """A ``Store`` on one SQLAlchemy engine. Build it with ``watcher.store.open_store``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._leases = leases.Leases(engine)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise failures.translate(exc, what, self._engine.url) from exc

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**READ_ONLY)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise failures.translate(exc, what, self._engine.url) from exc

    # --- life -------------------------------------------------------------------------------

    def migrate(self) -> None:
        sqlite_directory(self._engine.url)
        try:
            migrations.migrate(self._engine)
        except SQLAlchemyError as exc:
            raise failures.translate(exc, "migrating the store", self._engine.url) from exc

    def schema_status(self) -> SchemaStatus:
        return status.schema_status(self._engine)

    def close(self) -> None:
        self._leases.close()
        self._engine.dispose()

    # --- polling half -------------------------------------------------------------------------

    def source_state(self, source: str) -> SourceState:
        with self._read("reading source state") as conn:
            row = conn.execute(select(source_state).where(source_state.c.source == source)).first()
        return queries.state_of(row) if row else SourceState(source=source)

    def source_states(self) -> list[SourceState]:
        with self._read("reading source states") as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.source)).all()
        return [queries.state_of(row) for row in rows]

    def lease(self, source: str, holder: str, at: datetime) -> bool:
        if not self._leases.try_lock(source):
            return False
        try:
            with self._write("taking a lease") as conn:
                self._leases.record(conn, source, holder, at)
        except BaseException:
            self._leases.unlock(source)
            raise
        return True

    def release(self, source: str) -> None:
        if not self._leases.holds(source):
            return
        try:
            with self._write("releasing a lease") as conn:
                self._leases.forget(conn, source)
        finally:
            self._leases.unlock(source)

    def lease_holder(self, source: str) -> LeaseInfo | None:
        with self._read("reading a lease") as conn:
            return self._leases.holder(conn, source)

    def listed_fingerprints(self, source: str, keys: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._read("reading listed fingerprints") as conn:
            for chunk in queries.chunks(sorted(set(keys))):
                rows = conn.execute(
                    select(record.c.key, record.c.listed_fingerprint).where(
                        record.c.source == source, record.c.key.in_(chunk)
                    )
                )
                out.update((row.key, row.listed_fingerprint) for row in rows)
        return out

    def current(self, source: str, keys: Iterable[str]) -> dict[str, Record]:
        out: dict[str, Record] = {}
        with self._read("reading current records") as conn:
            for chunk in queries.chunks(sorted(set(keys))):
                rows = conn.execute(
                    select(record.c.key, record.c.data).where(
                        record.c.source == source, record.c.key.in_(chunk)
                    )
                )
                out.update((row.key, queries.record_of(row.data)) for row in rows)
        return out

    def commit(self, outcome: PollOutcome) -> CommitSummary:
        at = outcome.started
        # Every event named by a match is stored too, so a match never points nowhere.
        events: dict[queries.Identity, Event] = {e.identity: e for e in outcome.events}
        for m in outcome.matches:
            events.setdefault(m.event.identity, m.event)
        shown = [r for e in events.values() for r in (e.record, e.previous) if r is not None]
        with self._write(f"committing a poll of {outcome.source}") as conn:
            new_versions = records.write(conn, outcome.records, shown, at)
            new_events = queries.insert_new(
                conn,
                event,
                [_event_row(e, at) for e in events.values()],
                ("source", "key", "type", "fingerprint"),
            )
            ids = queries.event_ids(conn, [*events, *(entry.event for entry in outcome.ledger)])
            match_rows = {
                (ids[m.event.identity], m.rule_id): queries.hits_json(m.hits)
                for m in outcome.matches
            }
            queries.insert_new(
                conn,
                event_match,
                [{"event_id": e, "rule_id": r, "hits": h} for (e, r), h in match_rows.items()],
                ("event_id", "rule_id"),
            )
            new_ledger = queries.insert_new(
                conn, ledger, _ledger_rows(outcome, ids), ("subscription_id", "event_id")
            )
            queries.set_state(
                conn, outcome.source, at, outcome.error, outcome.cursor, outcome.health
            )
            if outcome.health is not None:
                queries.insert_new(
                    conn,
                    notice,
                    queries.notice_rows(outcome.health),
                    ("source", "kind", "opened", "since", "operator"),
                )
        logger.debug(
            "event=store_commit source=%s versions=%d events=%d ledger=%d error=%s",
            outcome.source,
            new_versions,
            new_events,
            new_ledger,
            bool(outcome.error),
        )
        return CommitSummary(records=new_versions, events=new_events, ledger=new_ledger)

    def commit_records(
        self, source: str, found: Sequence[tuple[Record, str]], at: datetime
    ) -> CommitSummary:
        with self._write(f"storing records of {source}") as conn:
            new_versions = records.write(conn, found, (), at)
        logger.debug("event=store_records source=%s versions=%d", source, new_versions)
        return CommitSummary(records=new_versions, events=0, ledger=0)

    def candidates(
        self,
        required: Sequence[Collection[SearchWord]] | None,
        source: str | None = None,
        since: date | None = None,
    ) -> list[Candidate]:
        with self._read("searching stored records") as conn:
            return fulltext.candidates(conn, required, source, since)

    def match_inputs(self, source: str, keys: Iterable[str]) -> dict[str, MatchInput]:
        with self._read("reading records to match") as conn:
            return fulltext.match_inputs(conn, source, keys)

    def stored_span(self, source: str | None = None) -> StoredSpan:
        with self._read("reading how much history is stored") as conn:
            return fulltext.stored_span(conn, source)

    def record_error(self, source: str, error: str, at: datetime) -> None:
        with self._write(f"recording an error for {source}") as conn:
            queries.set_state(conn, source, at, error)

    # --- sending half -------------------------------------------------------------------------

    def pending(self, subscription_id: str, before: datetime) -> list[PendingItem]:
        return self.pending_many([subscription_id], before).get(subscription_id, [])

    def create_delivery(
        self,
        subscription_id: str,
        idempotency_key: str,
        ledger_ids: Sequence[int],
        period_end: datetime,
        now: datetime,
        outgoing: Outgoing | None,
    ) -> Delivery | None:
        claim = Claim(subscription_id, idempotency_key, ledger_ids, period_end, outgoing)
        return self.create_deliveries([claim], now)[0]

    def pending_many(
        self, subscription_ids: Collection[str], before: datetime
    ) -> dict[str, list[PendingItem]]:
        out: dict[str, list[PendingItem]] = {}
        with self._read("reading pending items") as conn:
            for chunk in queries.chunks(sorted(set(subscription_ids))):
                found = queries.items(
                    conn,
                    and_(
                        ledger.c.subscription_id.in_(chunk),
                        ledger.c.delivery_id.is_(None),
                        ledger.c.created < before,
                    ),
                )
                for item in found:
                    out.setdefault(item.subscription_id, []).append(item)
        return out

    def create_deliveries(self, claims: Sequence[Claim], now: datetime) -> list[Delivery | None]:
        out: list[Delivery | None] = []
        with self._write(f"creating {len(claims)} deliveries") as conn:
            for c in claims:
                savepoint = conn.begin_nested()
                try:
                    made = outbox.create(
                        conn,
                        c.subscription_id,
                        c.idempotency_key,
                        c.ledger_ids,
                        c.period_end,
                        now,
                        c.outgoing,
                    )
                except outbox.NothingClaimedError:
                    savepoint.rollback()
                    out.append(None)
                else:
                    savepoint.commit()
                    out.append(made)
        return out

    def claim_due(
        self,
        holder: str,
        now: datetime,
        *,
        limit: int = 100,
        due_by: datetime | None = None,
        attempted_before: datetime | None = None,
        claim_for: timedelta = CLAIM_FOR,
    ) -> list[Delivery]:
        with self._write("claiming due messages") as conn:
            return outbox.claim_due(
                conn,
                holder,
                now,
                limit,
                due_by or now,
                attempted_before,
                claim_for,
            )

    def delivery_items(self, delivery_id: int) -> list[PendingItem]:
        with self._read("reading delivery items") as conn:
            return queries.items(conn, ledger.c.delivery_id == delivery_id)

    def mark_sent(self, delivery_id: int, at: datetime) -> None:
        with self._write("marking a delivery sent") as conn:
            outbox.mark_sent(conn, delivery_id, at)

    def mark_sent_many(self, delivery_ids: Collection[int], at: datetime) -> None:
        with self._write("marking deliveries sent") as conn:
            outbox.mark_sent_many(conn, delivery_ids, at)

    def renew_claims(
        self,
        delivery_ids: Collection[int],
        holder: str,
        now: datetime,
        claim_for: timedelta = CLAIM_FOR,
    ) -> set[int]:
        with self._write("renewing claims") as conn:
            return outbox.renew(conn, delivery_ids, holder, now, claim_for)

    def mark_failed(
        self,
        delivery_id: int,
        error: str,
        at: datetime,
        next_attempt: datetime,
        parts_sent: int = 0,
    ) -> None:
        with self._write("marking a delivery failed") as conn:
            outbox.mark_failed(conn, delivery_id, error, at, next_attempt, parts_sent)

    def mark_dead(self, delivery_id: int, error: str, at: datetime, parts_sent: int = 0) -> None:
        with self._write("marking a delivery dead") as conn:
            outbox.mark_dead(conn, delivery_id, error, at, parts_sent)

    def defer(self, delivery_id: int, until: datetime, at: datetime) -> None:
        with self._write("deferring a delivery") as conn:
            outbox.defer(conn, delivery_id, until, at)

    def outbox(
        self,
        state: OutboxState | None = None,
        channel: str | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        with self._read("reading the outbox") as conn:
            return outbox.listing(conn, state, channel, subscription_id, limit)

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self._read("reading a delivery") as conn:
            return outbox.by_id(conn, delivery_id)

    def revive(self, delivery_ids: Collection[int] | None, now: datetime) -> list[int]:
        with self._write("reviving dead messages") as conn:
            return outbox.revive(conn, delivery_ids, now)

    def drop(self, delivery_id: int, at: datetime) -> bool:
        with self._write("dropping a message") as conn:
            return outbox.drop(conn, delivery_id, at)

    def outbox_counts(self) -> dict[OutboxState, int]:
        with self._read("counting the outbox") as conn:
            return outbox.counts(conn)

    def next_due(self) -> datetime | None:
        with self._read("reading the outbox") as conn:
            return outbox.next_due(conn)

    def first_reports(
        self, subscription_id: str, items: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        with self._read("reading earlier messages") as conn:
            return outbox.first_reports(conn, subscription_id, items)

    # --- operators' notices -------------------------------------------------------------------

    def unsent_notices(self, operator: str, now: datetime) -> list[StoredNotice]:
        with self._read("reading unsent notices") as conn:
            return queries.notices(
                conn,
                and_(
                    notice.c.operator == operator,
                    notice.c.sent.is_(None),
                    or_(notice.c.next_attempt.is_(None), notice.c.next_attempt <= now),
                ),
            )

    def mark_notice(
        self,
        notice_id: int,
        at: datetime,
        error: str | None = None,
        next_attempt: datetime | None = None,
    ) -> None:
        with self._write("marking a notice") as conn:
            unsent = and_(notice.c.id == notice_id, notice.c.sent.is_(None))
            if error is None:
                values: dict[str, Any] = {"sent": at, "next_attempt": None}
            else:
                values = {
                    "attempts": notice.c.attempts + 1,
                    "last_error": error,
                    "next_attempt": next_attempt,
                }
            result = conn.execute(update(notice).where(unsent).values(**values))
            if result.rowcount == 0:
                found = conn.execute(select(notice.c.id).where(notice.c.id == notice_id)).first()
                if found is None:
                    raise StoreError(f"no notice with id {notice_id}")


# --- helpers on an open transaction ---------------------------------------------------------


def _event_row(e: Event, at: datetime) -> dict[str, Any]:
    source, key, type_, fingerprint = e.identity
    return {
        "source": source,
        "key": key,
        "type": type_,
        "fingerprint": fingerprint,
        "previous_fingerprint": e.previous.fingerprint if e.previous is not None else None,
        "replaces_holding": e.replaces_holding,
        "at": at,
    }


def _ledger_rows(outcome: PollOutcome, ids: dict[queries.Identity, int]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in outcome.ledger:
        if entry.event not in ids:
            raise StoreError(
                f"ledger entry for {entry.subscription_id} names an unknown event "
                f"{entry.event}; commit the event with it"
            )
        event_id = ids[entry.event]
        rows[(entry.subscription_id, event_id)] = {
            "subscription_id": entry.subscription_id,
            "event_id": event_id,
            "created": outcome.started,
        }
    return list(rows.values())
