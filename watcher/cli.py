"""The ``watcher`` command.

    watcher run                 poll on schedule and send digests until SIGTERM/SIGINT
    watcher run --once          poll every source, send what is due, exit (1 if anything failed)
    watcher check-config        validate the config and print what it sets up
    watcher status              each source's last poll and error, and undelivered digests
    watcher health              exit 0 if a running service beat recently (container HEALTHCHECK)
    watcher demo                the whole flow offline against recorded responses

Exit codes: 0 success, 1 a source or a delivery failed, 2 invalid config or usage.
The config path comes from --config, else WATCHER_CONFIG, else config/watcher.yaml.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from watcher import __version__, logs
from watcher.config import DEFAULT_CONFIG_PATH, Config, load
from watcher.errors import ConfigError, WatcherError

log = logging.getLogger("watcher")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The demo prints a story on stdout; its event log would drown it out.
    logs.configure(args.log_level or ("WARNING" if args.command == "demo" else "INFO"))
    try:
        if args.command == "demo":
            from watcher.demo import run_demo

            return run_demo()
        config = load(args.config or os.environ.get("WATCHER_CONFIG") or DEFAULT_CONFIG_PATH)
        if args.command == "check-config":
            return _check_config(config)
        if args.command == "status":
            return _status(config)
        if args.command == "health":
            return _health(config, args.max_age)
        return _run(config, once=args.once, since=args.since)
    except ConfigError as exc:
        print(f"watcher: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except WatcherError as exc:
        print(f"watcher: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watcher", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"watcher {__version__}")
    parser.add_argument(
        "--config", help=f"config file (default: $WATCHER_CONFIG or {DEFAULT_CONFIG_PATH})"
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("WATCHER_LOG_LEVEL"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="poll and send digests")
    run.add_argument(
        "--once", action="store_true", help="poll every source once, send what is due, and exit"
    )
    run.add_argument(
        "--since",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="with --once: poll from this date instead of the lookback window",
    )
    commands.add_parser("check-config", help="validate the config and exit")
    commands.add_parser("status", help="show source errors and undelivered digests")
    health = commands.add_parser("health", help="exit 0 if the running service is alive")
    health.add_argument(
        "--max-age",
        type=int,
        default=180,
        metavar="SECONDS",
        help="how old the last heartbeat may be (default 180)",
    )
    commands.add_parser("demo", help="run the whole flow offline against recorded data")
    return parser


def _run(config: Config, once: bool, since: date | None) -> int:
    from watcher import pipeline, schedule, service

    if since is not None and not once:
        raise ConfigError("--since", [("", "--since works only with run --once")])
    svc = service.build(config)
    try:
        if not once:
            schedule.run_forever(svc)
            return EXIT_OK
        polls = [pipeline.poll(svc, source_id, since) for source_id in svc.sources]
        sends = pipeline.send_due(svc, retry_now=True)
    finally:
        service.close(svc)
    failed = [p for p in polls if p.error] + [s for s in sends if s.error]
    for p in polls:
        print(
            f"poll {p.source}: listed {p.listed}, fetched {p.fetched}, new events {p.events}"
            + (f", ERROR {p.error}" if p.error else "")
        )
    for s in sends:
        print(
            f"digest {s.subscription}: {s.items} item(s) "
            + (f"NOT SENT ({s.error})" if s.error else "sent")
        )
    return EXIT_FAILED if failed else EXIT_OK


def _check_config(config: Config) -> int:
    print(f"store: {_redact(config.store_url)}")
    print(f"data_dir: {config.data_dir}   timezone: {config.timezone}")
    for s in config.sources:
        print(
            f"source {s.id}: {s.kind} {s.base_url} every {s.every} lookback {s.lookback_days} days"
        )
    for c in config.all_channels():
        print(f"channel {c.id}: {c.kind}")
    for r in config.rules:
        print(f"rule {r.id}: {r.query}  events={','.join(e.value for e in r.events)}")
    for sub in config.resolved_subscriptions():
        print(
            f"subscription {sub.id}: rules={','.join(sub.rules)} channel={sub.channel} "
            f"to={','.join(sub.to)} digest={sub.digest}"
        )
    print("config OK")
    return EXIT_OK


def _status(config: Config) -> int:
    from watcher.store import open_store

    store = open_store(config.store_url)
    try:
        store.migrate()
        states = {s.source: s for s in store.source_states()}
        for src in config.sources:
            st = states.get(src.id)
            if st is None or st.last_poll is None:
                print(f"source {src.id}: never polled")
                continue
            line = f"source {src.id}: last poll {st.last_poll:%Y-%m-%d %H:%M} UTC"
            line += f", last success {st.last_ok:%Y-%m-%d %H:%M}" if st.last_ok else ", never OK"
            if st.last_error:
                line += f"\n  failing ({st.error_count} in a row): {st.last_error}"
            print(line)
        failed = store.failed_deliveries()
        for d in failed:
            print(
                f"undelivered digest {d.id} for {d.subscription_id}: {d.attempts} attempt(s), "
                f"next {d.next_attempt:%Y-%m-%d %H:%M} UTC: {d.last_error}"
                if d.next_attempt
                else f"undelivered digest {d.id}: {d.last_error}"
            )
        bad = any(s.last_error for s in states.values()) or bool(failed)
    finally:
        store.close()
    return EXIT_FAILED if bad else EXIT_OK


def _health(config: Config, max_age: int) -> int:
    from watcher.schedule import heartbeat_age

    age = heartbeat_age(Path(config.data_dir), datetime.now(UTC))
    if age is None:
        print("unhealthy: no heartbeat yet", file=sys.stderr)
        return EXIT_FAILED
    if age > timedelta(seconds=max_age):
        print(f"unhealthy: last heartbeat {int(age.total_seconds())}s ago", file=sys.stderr)
        return EXIT_FAILED
    print(f"healthy: last heartbeat {int(age.total_seconds())}s ago")
    return EXIT_OK


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url
