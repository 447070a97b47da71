"""APScheduler 3 wiring: one in-memory schedule per process, built from config.

    every source      interval job (source.every, first run at start): poll, then send_due
    every cadence     cron job at the cadence's local time (daily / weekly): send_due
    retries           interval job every few minutes: send_due (retries whose time has come)
    heartbeat         interval job: touches <data_dir>/heartbeat, which `watcher health` reads

Jobs never overlap themselves (max_instances=1) and missed runs are coalesced into one.
SIGTERM and SIGINT stop the scheduler after running jobs finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher import pipeline
from watcher.pipeline import Service

log = logging.getLogger(__name__)

RETRY_EVERY = timedelta(minutes=5)
HEARTBEAT_EVERY = timedelta(seconds=30)
HEARTBEAT_FILE = "heartbeat"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def build_scheduler(service: Service) -> BackgroundScheduler:
    tz = service.config.tz
    scheduler = BackgroundScheduler(
        timezone=tz,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600},
    )
    start = datetime.now(UTC)
    for source in service.config.sources:
        scheduler.add_job(
            _poll_and_send,
            IntervalTrigger(seconds=source.every.total_seconds(), timezone=tz),
            args=(service, source.id),
            id=f"poll:{source.id}",
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
        scheduler.add_job(pipeline.send_due, trigger, args=(service,), id=f"digest:{cadence}")
    scheduler.add_job(
        pipeline.send_due,
        IntervalTrigger(seconds=RETRY_EVERY.total_seconds(), timezone=tz),
        args=(service,),
        id="retries",
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
    """Proof of life for the container's HEALTHCHECK: the scheduler is running jobs."""
    tmp = data_dir / f".{HEARTBEAT_FILE}.tmp"
    tmp.write_text(datetime.now(UTC).isoformat())
    tmp.replace(data_dir / HEARTBEAT_FILE)


def heartbeat_age(data_dir: Path, now: datetime) -> timedelta | None:
    """How long ago the running service last beat; None if it never did."""
    try:
        return now - datetime.fromisoformat((data_dir / HEARTBEAT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _poll_and_send(service: Service, source_id: str) -> None:
    pipeline.poll(service, source_id)
    pipeline.send_due(service)


def run_forever(service: Service) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("event=stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    scheduler = build_scheduler(service)
    scheduler.start()
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
        for s, handler in previous.items():
            signal.signal(s, handler)
        log.info("event=stopped")
