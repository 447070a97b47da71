"""The service's own commands: ``run``, ``status``, ``health`` and ``templates export``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from watcher.cli.codes import EXIT_FAILED, EXIT_OK
from watcher.config import Config
from watcher.errors import ConfigError, WatcherError

if TYPE_CHECKING:
    from watcher.pipeline import PollReport


LEASE_WAIT = 60  # seconds ``run --once`` waits for a source another process is polling


def run(config: Config, once: bool, since: date | None, wait: int | None = None) -> int:
    from watcher import operators, pipeline, schedule, sending, service

    if since is not None and not once:
        raise ConfigError("--since", [("", "--since works only with run --once")])
    if wait is not None and not once:
        raise ConfigError("--wait", [("", "--wait works only with run --once")])
    if not once:
        with schedule.stop_on_signals() as stop:
            store = service.wait_for_store(config, stop)
            if store is None:
                return EXIT_OK  # stopped before the store came up
            svc = service.build(config, store=store)
            try:
                schedule.run_forever(svc, stop)
            finally:
                service.close(svc)
        return EXIT_OK
    svc = service.build(config)
    waited = LEASE_WAIT if wait is None else wait
    deadline = time.monotonic() + waited  # one wait for every source, not one each
    try:
        polls = [
            pipeline.poll(svc, source_id, since, timedelta(seconds=deadline - time.monotonic()))
            for source_id in svc.sources
        ]
        sends = sending.send_due(svc, retry_now=True)
        notices = operators.notify(svc, retry_now=True)
    finally:
        service.close(svc)
    failed = any(p.error or p.skipped for p in polls) or any(s.error for s in (*sends, *notices))
    for p in polls:
        if p.skipped:
            print(f"poll {p.source}: NOT POLLED, {_held_by(p, waited)}")
            continue
        print(
            f"poll {p.source}: listed {p.listed}, fetched {p.fetched}, new events {p.events}"
            + (f", ERROR {p.error}" if p.error else "")
        )
    for s in sends:
        print(
            f"digest {s.subscription}: {s.items} item(s) "
            + (f"NOT SENT ({s.error})" if s.error else "sent")
        )
    for n in notices:
        print(
            f"notice {n.delivery} to {n.subscription}: "
            + (f"NOT SENT ({n.error})" if n.error else "sent")
        )
    return EXIT_FAILED if failed else EXIT_OK


def _held_by(p: PollReport, waited: int) -> str:
    who = (
        f"by {p.held_by.holder} since {p.held_by.since:%Y-%m-%d %H:%M:%S} UTC"
        if p.held_by
        else "by another process"
    )
    return f"source {p.source} is being polled {who} (waited {waited}s; --wait sets how long)"


def templates(args: argparse.Namespace) -> int:
    """``watcher templates export DIR``: the built-in templates, to edit and override with."""
    from importlib import resources

    from watcher.render import TEMPLATES

    folder = Path(args.folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WatcherError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    builtin = resources.files("watcher") / "templates"
    for name in TEMPLATES:
        target = folder / name
        if target.exists() and not args.force:
            print(f"kept {target} (it exists; --force overwrites it)")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # items/ for the per-kind items
            target.write_text((builtin / name).read_text(encoding="utf-8"), encoding="utf-8")
        except OSError as exc:
            raise WatcherError(f"cannot write {target}: {exc.strerror or exc}") from exc
        print(f"wrote {target}")
    print(
        f"\nEdit them, delete the ones you do not change, and set `templates: {folder.resolve()}` "
        "in the "
        "config (a relative path is relative to the config file's folder). "
        "`watcher check-config` compiles them."
    )
    return EXIT_OK


def status(config: Config) -> int:
    """Every source's health as a table, then what is failing, who is polling what right now,
    and what is still unsent."""
    from watcher.cli.health_table import health_table
    from watcher.operators import ALWAYS
    from watcher.service import open_migrated_store
    from watcher.store import OutboxState

    store = open_migrated_store(config)
    try:
        states = {s.source: s for s in store.source_states()}
        print(f"sources (times in {config.timezone}):")
        for line in health_table(config.sources, states, config.tz):
            print(f"  {line}")
        for src in config.sources:
            st = states.get(src.id)
            if st is not None and st.last_error:
                print(f"source {src.id} failing ({st.error_count} in a row): {st.last_error}")
        for src in config.sources:
            held = store.lease_holder(src.id)
            if held is not None:
                since = f"{held.since.astimezone(config.tz):%Y-%m-%d %H:%M:%S}"
                print(f"source {src.id} is being polled by {held.holder} since {since}")
        counts = store.outbox_counts()
        print(
            f"outbox: {counts[OutboxState.PENDING]} pending, {counts[OutboxState.DEAD]} dead, "
            f"{counts[OutboxState.SENT]} sent (`watcher outbox list` shows them)"
        )
        failed = [d for d in store.outbox(OutboxState.PENDING, limit=50) if d.attempts]
        dead = store.outbox(OutboxState.DEAD, limit=50)
        for d in failed:
            print(
                f"undelivered digest {d.id} for {d.subscription_id} on {d.channel}: "
                f"{d.attempts} attempt(s), next {d.next_attempt:%Y-%m-%d %H:%M} UTC: "
                f"{d.last_error}"
                if d.next_attempt
                else f"undelivered digest {d.id}: {d.last_error}"
            )
        for d in dead:
            print(
                f"dead digest {d.id} for {d.subscription_id} on {d.channel} after "
                f"{d.attempts} attempt(s): {d.last_error} (`watcher outbox retry {d.id}`)"
            )
        stuck = [
            n
            for op in config.resolved_operators()
            for n in store.unsent_notices(op.id, ALWAYS)
            if n.attempts
        ]
        for n in stuck:
            print(
                f"undelivered notice {n.id} to operator {n.operator} about {n.notice.source}: "
                f"{n.attempts} attempt(s): {n.last_error}"
            )
        configured = {s.id for s in config.sources}
        bad = (
            any(s.last_error or s.incidents for s in states.values() if s.source in configured)
            or bool(failed)
            or bool(dead)
            or bool(stuck)
        )
    finally:
        store.close()
    return EXIT_FAILED if bad else EXIT_OK


def health(config: Config, max_age: int, max_failures: int) -> int:
    """Unhealthy when the heartbeat is stale, or when a job raised on its last run or failed its
    last ``max_failures`` runs: a service that ticks but polls and sends nothing is not well."""
    from watcher import jobhealth
    from watcher.schedule import heartbeat_age, starting_reason

    data_dir = Path(config.data_dir)
    age = heartbeat_age(data_dir, datetime.now(UTC))
    if age is None or age > timedelta(seconds=max_age):
        starting = starting_reason(data_dir)
        if starting is not None:
            at, _, why = starting.partition(" ")
            print(f"unhealthy: still starting, {why} (at {at[:19]}Z)", file=sys.stderr)
        elif age is None:
            print("unhealthy: no heartbeat yet", file=sys.stderr)
        else:
            print(f"unhealthy: last heartbeat {int(age.total_seconds())}s ago", file=sys.stderr)
        return EXIT_FAILED
    try:
        outcomes = jobhealth.read(data_dir)
    except WatcherError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return EXIT_FAILED
    problems = jobhealth.problems(outcomes, max_failures)
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    ok = sum(o.failures == 0 for o in outcomes.values())
    jobs = f", {ok} of {len(outcomes)} jobs ok" if outcomes else ""
    print(f"healthy: last heartbeat {int(age.total_seconds())}s ago{jobs}")
    return EXIT_OK
