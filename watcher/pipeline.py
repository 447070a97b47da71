"""The data flow, top to bottom. Orchestration only: every decision is made by a pure module
(``diff``, ``match``, ``digest``) and every side effect by an edge (``sources``, ``store``,
``channels``).

    poll(service, source_id)                         every source.every
      1 lease      store.lease            one process polls a source at a time: a lock that
                                          ends with its holder (a PostgreSQL advisory lock, a
                                          file lock beside an SQLite file), so a replica killed
                                          mid-poll leaves it free at once; a poll that finds it
                                          held is skipped, saying who holds it (``run --once``
                                          waits a while first; a running service looks again
                                          shortly, ``schedule``)
      2 list       source.list            the window's listing (from the source's cursor) →
                                          ListEntry (+ fingerprint; a feed's carry their Record;
                                          a daily re-check of recent answers is marked recheck)
      3 select     diff.changed           only new entries, entries whose listing changed, and
                                          re-checks
      4 fetch      source.fetch           detail of those not carried whole → Record (full text,
                                          sanitised; one bad item is that item's error)
      5 diff       diff.events            Record vs stored version → Event, as its kind says
                                          (a question's answered, corrected ...; published,
                                          updated); none for the keys the listing keeps quiet
      6 match      match.match_events     Event × Rule → Match (with hits)
      7 ledger     _ledger                Match × Subscription → LedgerEntry
      8 health     incidents.decide       incidents opened or closed → a notice per operator
      9 commit     store.commit           records, versions, events, matches, ledger, source state
                                          and health, notices: ONE transaction; a failed page or
                                          item is an error on the source's state, what did
                                          arrive is kept (``operators.notify`` sends notices)

    send_due(service)                     ``watcher.sending``: digests into the outbox, then
                                          the outbox to the channels (its docstring draws it)

    backfill(service, source_id, since, until)       ``watcher backfill``: history, silently
      per chunk of days: steps 2-4 of poll, then store.commit_records (records only: no events,
      no ledger, source state untouched) — except changes a poll would alert on, left to it

The two halves meet only in the store: polling never sends, sending never fetches.
``Service`` and the reports are here because both halves use them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from watcher import diff, incidents, sourcehealth
from watcher.channels.base import Channel
from watcher.config import Config, SourceConfig, Subscription
from watcher.errors import ParseError, SourceError, StoreError
from watcher.logs import q
from watcher.match import Rule, match_events
from watcher.model import EventId, Match, Record
from watcher.render import Renderer
from watcher.sources.base import Cursor, Source
from watcher.store.base import LeaseInfo, LedgerEntry, PollOutcome, Store

log = logging.getLogger(__name__)

MAX_CATCHUP = timedelta(days=31)
BACKFILL_DAYS = 7  # a failed backfill chunk loses at most this much work
LEASE_RETRY = timedelta(seconds=1)  # how often a poll that waits for a lease asks again


@dataclass
class Service:
    """The assembled parts of a running service (see ``watcher.service.build``)."""

    config: Config
    store: Store
    sources: Mapping[str, Source]
    channels: Mapping[str, Channel]
    rules: Sequence[Rule]
    subscriptions: Sequence[Subscription]
    renderer: Renderer
    holder: str  # this process, for leases
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _send_lock: threading.Lock = field(default_factory=threading.Lock)

    def source_config(self, source_id: str) -> SourceConfig:
        return next(s for s in self.config.sources if s.id == source_id)


@dataclass(frozen=True)
class PollReport:
    source: str
    listed: int = 0
    fetched: int = 0
    events: int = 0
    ledger: int = 0
    error: str | None = None
    skipped: bool = False  # another process holds the lease
    held_by: LeaseInfo | None = None  # who, when skipped (None: unknown, it let go just then)
    notices: int = 0  # operator notices the poll stored (``operators.notify`` sends them)


@dataclass(frozen=True)
class SendReport:
    subscription: str
    delivery: int
    items: int
    error: str | None = None


# --- polling half --------------------------------------------------------------------------


def poll(
    service: Service,
    source_id: str,
    since: date | None = None,
    wait: timedelta = timedelta(0),
) -> PollReport:
    """Poll one source and commit what it brought. Never raises for a source's failure: the
    error is recorded on the source's state and returned in the report. While another process
    holds the source's lease, waits up to ``wait`` for it, then skips the poll (``skipped``,
    and who holds it)."""
    store = service.store
    if not _lease(service, source_id, wait):
        held_by = store.lease_holder(source_id)
        log.info(
            "event=poll_skipped source=%s reason=leased_elsewhere holder=%s since=%s",
            source_id,
            q(held_by.holder if held_by else "unknown"),
            held_by.since.isoformat(timespec="seconds") if held_by else "-",
        )
        return PollReport(source_id, skipped=True, held_by=held_by)
    started = service.clock()
    try:
        state = store.source_state(source_id)
        today = started.astimezone(service.config.tz).date()
        last_ok = state.last_ok.astimezone(service.config.tz).date() if state.last_ok else None
        start, end = window(today, service.source_config(source_id).lookback_days, last_ok, since)

        found = _find(service, source_id, start, end, state.cursor)
        records = [r for r, _ in found.records]
        stored = store.current(source_id, [r.key for r in records])
        # What the source asked to keep without alerting (a feed's first poll, a churning
        # entry) is stored like the rest and makes no event.
        events = [e for e in diff.events(records, stored) if e.record.key not in found.quiet]
        matches = match_events(service.rules, events)
        ledger = _ledger(matches, service.subscriptions)

        error = found.error
        seen = incidents.Seen(
            at=started,
            error=error,
            listing_read=found.listing_error is None,
            listing_unparsable=isinstance(found.listing_error, ParseError),
            items=len(records) + found.item_errors,
            parse_errors=found.parse_errors,
            new=sum(r.key not in stored for r in records),
        )
        summary = store.commit(
            PollOutcome(
                source=source_id,
                started=started,
                records=found.records,
                events=events,
                matches=matches,
                ledger=ledger,
                error=error,
                cursor=found.cursor,
                health=(health := sourcehealth.assess(service.config, state, found.listed, seen)),
            )
        )
    except StoreError as exc:
        log.error("event=poll_failed source=%s stage=store error=%s", source_id, q(exc))
        return PollReport(source_id, error=f"store: {exc}")
    finally:
        store.release(source_id)

    report = PollReport(
        source_id,
        listed=found.listed,
        fetched=len(records),
        events=summary.events,
        ledger=summary.ledger,
        error=error,
        notices=len(health.notices),
    )
    if error:
        log.warning(
            "event=poll_failed source=%s window=%s..%s listed=%d fetched=%d new=%d error=%s",
            source_id,
            start,
            end,
            report.listed,
            report.fetched,
            report.events,
            q(error),
        )
    else:
        log.info(
            "event=poll_done source=%s window=%s..%s listed=%d fetched=%d new=%d owed=%d",
            source_id,
            start,
            end,
            report.listed,
            report.fetched,
            report.events,
            report.ledger,
        )
    return report


def _lease(service: Service, source_id: str, wait: timedelta) -> bool:
    """Take the source's lease, asking again every ``LEASE_RETRY`` for up to ``wait``."""
    deadline = time.monotonic() + wait.total_seconds()
    waiting = False
    while not service.store.lease(source_id, service.holder, service.clock()):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if not waiting:
            held_by = service.store.lease_holder(source_id)
            log.info(
                "event=poll_waiting source=%s holder=%s wait=%ds",
                source_id,
                q(held_by.holder if held_by else "unknown"),
                round(left),
            )
            waiting = True
        time.sleep(min(LEASE_RETRY.total_seconds(), left))
    return True


@dataclass(frozen=True)
class BackfillReport:
    """One chunk of a backfill."""

    source: str
    start: date
    end: date
    listed: int = 0
    fetched: int = 0
    stored: int = 0  # new record versions
    left: tuple[str, ...] = ()  # keys of known items that changed, left for polling to alert on
    error: str | None = None


def backfill(
    service: Service,
    source_id: str,
    since: date,
    until: date,
    *,
    days: int = BACKFILL_DAYS,
    progress: Callable[[BackfillReport], None] | None = None,
) -> list[BackfillReport]:
    """Fill the store with a source's history between two dates, alerting nobody.

    Walks the range oldest first in chunks of ``days`` (``backfill_chunks``). Each chunk lists,
    selects and fetches exactly as a poll does (steps 2-4), then stores the records with
    ``store.commit_records``: record versions and current records only, no events, matches or
    ledger rows, so nothing is ever sent for them, and the source's polling state is left
    alone. Because the records are stored, a later poll finds them unchanged and stays silent,
    while a later change to one of them (a correction) is an event like any other.

    An item the store already knows whose new version is a change a poll would report (an
    answer, a correction ...) is not stored: that alert belongs to polling (``run --once
    --since``), and a backfill must not swallow it. Its key is in ``left``.

    Stops at the first chunk that fails, after storing what that chunk did bring; every earlier
    chunk is committed, so running again from the failed chunk's start resumes the work.
    Never raises for a source's or the store's failure: it is the last report's ``error``.
    """
    reports: list[BackfillReport] = []
    for start, end in backfill_chunks(since, until, days):
        report = _backfill_chunk(service, source_id, start, end)
        reports.append(report)
        if progress is not None:
            progress(report)
        if report.error:
            break
    return reports


def backfill_chunks(since: date, until: date, days: int = BACKFILL_DAYS) -> list[tuple[date, date]]:
    """``since``..``until`` (inclusive) cut into consecutive windows of ``days``, oldest first."""
    out: list[tuple[date, date]] = []
    start = since
    while start <= until:
        end = min(start + timedelta(days=days - 1), until)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def _backfill_chunk(service: Service, source_id: str, start: date, end: date) -> BackfillReport:
    store = service.store
    try:
        found = _find(service, source_id, start, end)
        records = [r for r, _ in found.records]
        stored = store.current(source_id, [r.key for r in records])
        loud = {e.record.key for e in diff.events(records, stored) if e.record.key in stored}
        quiet = [(r, listed) for r, listed in found.records if r.key not in loud]
        summary = store.commit_records(source_id, quiet, service.clock())
    except StoreError as exc:
        log.error("event=backfill_failed source=%s stage=store error=%s", source_id, q(exc))
        return BackfillReport(source_id, start, end, error=f"store: {exc}")
    report = BackfillReport(
        source_id,
        start,
        end,
        listed=found.listed,
        fetched=len(records),
        stored=summary.records,
        left=tuple(sorted(loud)),
        error=found.error,
    )
    log.log(
        logging.WARNING if report.error else logging.INFO,
        "event=%s source=%s window=%s..%s listed=%d fetched=%d stored=%d left=%d error=%s",
        "backfill_failed" if report.error else "backfill_chunk",
        source_id,
        start,
        end,
        report.listed,
        report.fetched,
        report.stored,
        len(report.left),
        q(report.error or "none"),
    )
    return report


def window(
    today: date, lookback_days: int, last_ok: date | None, since: date | None = None
) -> tuple[date, date]:
    """The dates to poll: the lookback before today, reaching back to the last good poll so a
    source that was down catches up (at most ``MAX_CATCHUP``), or from ``since`` if given."""
    if since is not None:
        return min(since, today), today
    lookback = timedelta(days=lookback_days)
    start = min(today, last_ok or today) - lookback
    floor = today - max(MAX_CATCHUP, lookback)
    if start < floor:
        start = floor
        log.warning("event=catchup_capped since=%s hint=%s", start, q("use run --once --since"))
    return start, today


def _ledger(matches: Sequence[Match], subscriptions: Sequence[Subscription]) -> list[LedgerEntry]:
    owed: dict[tuple[str, EventId], None] = {}
    for m in matches:
        for sub in subscriptions:
            if m.rule_id in sub.rules:
                owed[(sub.id, m.event.identity)] = None
    return [LedgerEntry(sub_id, identity) for sub_id, identity in owed]


@dataclass(frozen=True)
class _Found:
    """What one window of a source brought: steps 2 to 4 of a poll."""

    listed: int
    records: tuple[tuple[Record, str], ...]  # (record, listed fingerprint)
    error: str | None  # the listing's or some items' failures; what did arrive is kept
    cursor: Cursor | None = None  # the listing's, for the next poll
    quiet: frozenset[str] = frozenset()  # keys to store without an event (``Listing.quiet``)
    listing_error: SourceError | None = None  # the listing stopped early
    item_errors: int = 0  # items that could not be fetched
    parse_errors: int = 0  # of those, the ones that did not parse (``ParseError``)


def _find(
    service: Service, source_id: str, start: date, end: date, cursor: Cursor | None = None
) -> _Found:
    """List a window, select what is new or changed, and fetch what the listing did not
    bring whole."""
    source = service.sources[source_id]
    listing = source.list(start, end, cursor)
    known = service.store.listed_fingerprints(source_id, [e.key for e in listing.entries])
    stale = diff.changed(listing.entries, known)
    whole = [(e.record, e.fingerprint) for e in stale if e.record is not None]
    to_fetch = [e for e in stale if e.record is None]
    fetched = source.fetch(to_fetch) if to_fetch else None
    errors = [str(listing.error)] if listing.error else []
    if fetched:
        errors += [f"item {key}: {err}" for key, err in fetched.errors]
    records = (*whole, *(fetched.records if fetched else ()))
    failed = fetched.errors if fetched else ()
    return _Found(
        len(listing.entries),
        records,
        _summarise(errors),
        listing.cursor,
        listing.quiet,
        listing.error,
        len(failed),
        sum(isinstance(err, ParseError) for _key, err in failed),
    )


def _summarise(errors: list[str]) -> str | None:
    if not errors:
        return None
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(errors[:3]) + more
