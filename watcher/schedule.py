"""APScheduler 3 wiring: one in-memory schedule per process, built from config.

    every source      interval job (source.every, first run at start): poll, then ask for
                      a send SEND_SETTLE later; polls ending close together share one send,
                      so however many sources a tick polls, a subscription gets one message;
                      a send is send_due and operators.notify (source health notices)
    lease rechecks    a poll skipped because another process holds the lease is looked at
                      again LEASE_RECHECK later, and polled then unless that holder's poll
                      was committed meanwhile: a holder killed mid-poll costs seconds of
                      polling, not a whole interval
    every cadence     cron job at the cadence's local time (daily / weekly): send_due
    retries           interval job every few minutes: send_due and operators.notify (retries
                      whose time has come); and after every send, a one-off send at the
                      soonest pending message's next attempt, if that comes sooner
    heartbeat         interval job: touches <data_dir>/heartbeat, which `watcher health` reads

Every job but the heartbeat records how it went (``jobhealth``) in <data_dir>/health.json, so
`watcher health` also sees a service that ticks while its polls or sends keep failing.

Jobs never overlap themselves (max_instances=1) and missed runs are coalesced into one.
SIGTERM and SIGINT (``stop_on_signals``) stop the scheduler after running jobs finish, or a
start-up that is still waiting for its store.

Before the scheduler runs, a service that is still starting (waiting for its database) says why
in <data_dir>/starting, so `watcher health` reports that instead of a bare "no heartbeat".
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher import operators, pipeline, sending
from watcher.errors import WatcherError
from watcher.jobhealth import JobHealth, Report, write_atomically
from watcher.logs import q
from watcher.pipeline import Service
from watcher.store.base import LeaseInfo

log = logging.getLogger(__name__)

RETRY_EVERY = timedelta(minutes=5)
LEASE_RECHECK = timedelta(seconds=15)
SEND_SETTLE = timedelta(seconds=10)
SEND_AFTER_POLLS = "send"
NEXT_ATTEMPT = "next-attempt"
MIN_WAIT = timedelta(seconds=1)
HEARTBEAT_EVERY = timedelta(seconds=30)
HEARTBEAT_FILE = "heartbeat"
STARTING_FILE = "starting"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def build_scheduler(service: Service, health: JobHealth) -> BackgroundScheduler:
    tz = service.config.tz
    scheduler = BackgroundScheduler(
        timezone=tz,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600},
    )
    start = datetime.now(UTC)
    send = functools.partial(_send_all, service, scheduler, health)
    send_soon = functools.partial(_send_soon, scheduler, health.track(SEND_AFTER_POLLS, send))
    for source in service.config.sources:
        job_id = f"poll:{source.id}"
        poll = functools.partial(_poll, service, source.id, send_soon, scheduler, health)
        scheduler.add_job(
            health.track(job_id, poll),
            IntervalTrigger(seconds=source.every.total_seconds(), timezone=tz),
            id=job_id,
            name=job_id,
            next_run_time=start,
        )
    cadences = {s.digest for s in service.subscriptions if s.digest.kind != "immediate"}
    for cadence in cadences:
        assert cadence.at is not None
        trigger = CronTrigger(
            hour=cadence.at.hour,
            minute=cadence.at.minute,
            day_of_week=_WEEKDAYS[cadence.weekday] if cadence.weekday is not None else "*",
            timezone=tz,
        )
        job_id = f"digest:{cadence}"
        scheduler.add_job(health.track(job_id, send), trigger, id=job_id, name=job_id)
    scheduler.add_job(
        health.track("retries", send),
        IntervalTrigger(seconds=RETRY_EVERY.total_seconds(), timezone=tz),
        id="retries",
        name="retries",
        next_run_time=start,
    )
    scheduler.add_job(
        beat,
        IntervalTrigger(seconds=HEARTBEAT_EVERY.total_seconds(), timezone=tz),
        args=(Path(service.config.data_dir),),
        id="heartbeat",
        next_run_time=start,
    )
    return scheduler


def beat(data_dir: Path) -> None:
    """Proof of life for the container's HEALTHCHECK: the scheduler is running jobs. A beat
    that cannot be written is logged; the next one tries again."""
    try:
        write_atomically(data_dir / HEARTBEAT_FILE, datetime.now(UTC).isoformat())
    except OSError as exc:
        log.warning("event=heartbeat_not_written data_dir=%s error=%s", data_dir, q(exc))


def heartbeat_age(data_dir: Path, now: datetime) -> timedelta | None:
    """How long ago the running service last beat; None if it never did."""
    try:
        return now - datetime.fromisoformat((data_dir / HEARTBEAT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def report_starting(data_dir: Path, why: str) -> None:
    """Say why the service is not running yet (``starting_reason`` reads it back). Best effort:
    a data folder that cannot be written must not stop the wait it reports on."""
    try:
        write_atomically(data_dir / STARTING_FILE, f"{datetime.now(UTC).isoformat()} {why}")
    except OSError as exc:
        log.debug("event=starting_not_recorded error=%s", exc)


def started(data_dir: Path) -> None:
    """The start-up is over (the scheduler runs, or the wait was stopped): nothing to report."""
    with contextlib.suppress(OSError):
        (data_dir / STARTING_FILE).unlink(missing_ok=True)


def starting_reason(data_dir: Path) -> str | None:
    """What a service still starting last reported (``<UTC time> <why>``), if anything."""
    try:
        return (data_dir / STARTING_FILE).read_text().strip() or None
    except OSError:
        return None


def _poll(
    service: Service,
    source_id: str,
    send_soon: Callable[[], None],
    scheduler: BackgroundScheduler,
    health: JobHealth,
    unless_polled_by: LeaseInfo | None = None,
) -> list[Report]:
    """Poll a source; with ``unless_polled_by`` (a recheck), only if that lease's poll was not
    committed since: its holder is gone, or has not finished yet (then this skips again)."""
    if unless_polled_by is not None:
        last_poll = service.store.source_state(source_id).last_poll
        if last_poll is not None and last_poll >= unless_polled_by.since:
            log.info(
                "event=poll_not_needed source=%s reason=polled_by_holder holder=%s",
                source_id,
                q(unless_polled_by.holder),
            )
            return []
    report = pipeline.poll(service, source_id)
    if report.skipped and report.held_by and report.held_by.holder != service.holder:
        again = functools.partial(
            _poll, service, source_id, send_soon, scheduler, health, report.held_by
        )
        scheduler.add_job(
            health.track(f"poll:{source_id}", again),
            "date",
            run_date=datetime.now(UTC) + LEASE_RECHECK,
            id=f"recheck:{source_id}",
            name=f"recheck:{source_id}",
            replace_existing=True,
        )
    if report.ledger or report.notices:  # something is owed to a subscriber or an operator
        send_soon()
    return [report]


def _send_soon(scheduler: BackgroundScheduler, send: Callable[[], None]) -> None:
    """Send what the polls just found, once the polls ending about now have all committed:
    each call moves the one pending send to SEND_SETTLE from now."""
    scheduler.add_job(
        send,
        "date",
        run_date=datetime.now(UTC) + SEND_SETTLE,
        id=SEND_AFTER_POLLS,
        name=SEND_AFTER_POLLS,
        replace_existing=True,
    )


def _send_all(service: Service, scheduler: BackgroundScheduler, health: JobHealth) -> list[Report]:
    reports: list[Report] = [*sending.send_due(service), *operators.notify(service)]
    try:
        due = service.store.next_due()
    except WatcherError as exc:
        log.warning("event=next_due_unknown error=%s", q(exc))
        return reports
    now = datetime.now(UTC)
    if due is not None and due < now + RETRY_EVERY:
        # A retry's own time, rather than the next sweep: a Retry-After of 2 s means 2 s.
        scheduler.add_job(
            health.track(NEXT_ATTEMPT, functools.partial(_send_all, service, scheduler, health)),
            "date",
            run_date=max(due, now + MIN_WAIT),
            id=NEXT_ATTEMPT,
            name=NEXT_ATTEMPT,
            replace_existing=True,
        )
    return reports


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM and SIGINT set while the block runs."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("event=stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_forever(service: Service, stop: threading.Event) -> None:
    """Run the schedule until ``stop`` is set."""
    health = JobHealth(Path(service.config.data_dir), service.clock)
    health.write()  # no outcomes yet: the last process's are not this one's
    scheduler = build_scheduler(service, health)
    scheduler.start()
    started(Path(service.config.data_dir))
    log.info(
        "event=started sources=%d subscriptions=%d jobs=%d",
        len(service.sources),
        len(service.subscriptions),
        len(scheduler.get_jobs()),
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown(wait=True)
        log.info("event=stopped")
