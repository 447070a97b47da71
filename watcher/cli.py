"""The ``watcher`` command: parses arguments, runs one command, turns errors into exit codes.

    watcher run                 poll on schedule and send digests until SIGTERM/SIGINT
    watcher run --once          poll every source, send what is due, exit (1 if anything failed)
    watcher check-config        validate the config and check what it needs (store, templates)
    watcher status              each source's last poll and error, and undelivered digests
    watcher health              exit 0 if a running service beat recently (container HEALTHCHECK)
    watcher test-rule QUERY     what a rule matches in stored history, per week and per cadence
    watcher backfill --since D  store a source's history without alerting anyone
    watcher templates export D  write the built-in templates to a folder, for editing
    watcher demo                the whole flow offline against recorded responses

Exit codes: 0 success, 1 a runtime failure (a source, a delivery, the store), 2 invalid config,
usage or query. No input ends in a traceback; an unexpected exception is a bug and is raised.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from watcher import __version__, logs
from watcher.config import DEFAULT_CONFIG_PATH, Config, ConfigWarning, read
from watcher.errors import ConfigError, QuerySyntaxError, WatcherError
from watcher.logs import q

if TYPE_CHECKING:
    from watcher.pipeline import BackfillReport

log = logging.getLogger("watcher")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


HELP = """\
Watches UK Parliament written questions and answers, matches your rules and sends digests.
"""
EPILOG = f"""\
The config file is --config, else $WATCHER_CONFIG, else {DEFAULT_CONFIG_PATH}.
--config and --log-level may come before or after the command.
Exit codes: 0 OK, 1 a source, delivery or the store failed, 2 invalid configuration or usage.
Run "watcher COMMAND --help" for a command's options.
"""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`watcher demo | head`): stop quietly. Point stdout at devnull
        # so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("watcher: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    level = getattr(args, "log_level", None) or os.environ.get("WATCHER_LOG_LEVEL")
    if level is not None and level.upper() not in LOG_LEVELS:
        print(
            "watcher: invalid configuration\n"
            f"WATCHER_LOG_LEVEL: {level!r} is not a log level (write {', '.join(LOG_LEVELS)})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    # The demo prints a story on stdout; its event log would drown it out.
    logs.configure(level or ("WARNING" if args.command == "demo" else "INFO"))
    config_path = (
        getattr(args, "config", None) or os.environ.get("WATCHER_CONFIG") or DEFAULT_CONFIG_PATH
    )
    try:
        if args.command == "demo":
            from watcher.demo import run_demo

            return run_demo(save=args.save)
        if args.command == "templates":
            return _templates(args)
        loaded = read(config_path)
        config = loaded.config
        if args.command == "run":  # check-config prints them; other commands stay quiet
            for warning in loaded.warnings:
                log.warning(
                    "event=config_warning file=%s %s", q(config_path), _warning_fields(warning)
                )
        if args.command == "check-config":
            from watcher import preflight

            return preflight.run(config_path, loaded, send_test=args.send_test)
        if args.command == "status":
            return _status(config)
        if args.command == "health":
            return _health(config, args.max_age)
        if args.command == "test-rule":
            return _test_rule(config, args)
        if args.command == "backfill":
            return _backfill(config, args)
        return _run(config, once=args.once, since=args.since)
    except ConfigError as exc:
        print(f"watcher: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except WatcherError as exc:
        print(f"watcher: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _warning_fields(warning: ConfigWarning) -> str:
    return f"key={q(warning.path or '-')} warning={q(warning.message)}"


def _log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a log level (write {', '.join(LOG_LEVELS)})"
        )
    return value.upper()


def _parser() -> argparse.ArgumentParser:
    # The global options live on a parent shared by the top level and every command, so they
    # may be written before or after the command. SUPPRESS keeps a command's parser from
    # overwriting a value given before the command with its own default.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help=f"config file (default: $WATCHER_CONFIG, else {DEFAULT_CONFIG_PATH})",
    )
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        type=_log_level,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (default: $WATCHER_LOG_LEVEL, else INFO)",
    )
    parser = argparse.ArgumentParser(
        prog="watcher",
        description=HELP,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"watcher {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[common])

    run = command("run", "poll each source on its interval and send digests when due")
    run.add_argument(
        "--once", action="store_true", help="poll every source once, send what is due, and exit"
    )
    run.add_argument(
        "--since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="with --once: poll from this date instead of the look-back window",
    )
    check = command(
        "check-config", "validate the config and check the store, data folder and templates"
    )
    check.add_argument(
        "--send-test",
        metavar="SUBSCRIPTION_ID",
        help="also send one small test message through this subscription's channel",
    )
    command("status", "show each source's last poll and error, and undelivered digests")
    health = command("health", "exit 0 if the running service beat recently")
    health.add_argument(
        "--max-age",
        type=int,
        default=180,
        metavar="SECONDS",
        help="how old the last heartbeat may be (default 180)",
    )
    demo = command("demo", "run the whole flow offline against recorded data")
    demo.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="write each email received as DIR/NAME.eml and its HTML part as DIR/NAME.html",
    )
    templates = command("templates", "the built-in digest templates")
    actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the built-in templates to a folder, to edit and point templates: at",
        description="write the built-in templates to a folder, to edit and point templates: at",
    )
    export.add_argument("folder", metavar="DIR")
    export.add_argument("--force", action="store_true", help="overwrite files already there")
    _history_parsers(commands, common)
    return parser


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (write YYYY-MM-DD)") from None


def _history_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    test_rule = commands.add_parser(
        "test-rule",
        help="what a rule would have sent from stored history: alerts per week and per cadence",
        parents=[common],
    )
    test_rule.add_argument(
        "query", nargs="?", help="a query, e.g. '\"SEND workforce\"' (or give --rule)"
    )
    test_rule.add_argument(
        "--rule", metavar="ID", help="a configured rule, with its events and sources"
    )
    test_rule.add_argument(
        "--events",
        metavar="A,B",
        help="with a QUERY: the events to count (default: a rule's, answered,corrected)",
    )
    test_rule.add_argument(
        "--since",
        metavar="WHEN",
        help="only events on or after this day: 90d, 12w or YYYY-MM-DD",
    )
    test_rule.add_argument("--source", metavar="ID", help="only this source's items")
    test_rule.add_argument(
        "--newest",
        type=int,
        default=5,
        metavar="N",
        help="show the N items alerted last, with snippets (default 5)",
    )
    test_rule.add_argument("--json", action="store_true", help="print the report as JSON")
    backfill = commands.add_parser(
        "backfill", help="store a source's history without sending alerts", parents=[common]
    )
    backfill.add_argument(
        "--since",
        type=_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="first day to fill (chunks of 7 days from here)",
    )
    backfill.add_argument(
        "--until",
        type=_day,
        metavar="YYYY-MM-DD",
        help="last day to fill (default: today)",
    )
    backfill.add_argument("--source", metavar="ID", help="only this source (default: all)")


def _run(config: Config, once: bool, since: date | None) -> int:
    from watcher import pipeline, schedule, service

    if since is not None and not once:
        raise ConfigError("--since", [("", "--since works only with run --once")])
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
    try:
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


def _test_rule(config: Config, args: argparse.Namespace) -> int:
    import difflib

    from watcher import backtest, backtest_report
    from watcher.match import parse
    from watcher.model import EventType
    from watcher.store import open_store

    def usage(problem: str) -> int:
        print(f"watcher: {problem}", file=sys.stderr)
        return EXIT_CONFIG

    if args.query is None and args.rule is None:
        return usage("test-rule needs a QUERY or --rule ID")
    if args.query is not None and args.rule is not None:
        return usage("test-rule takes a QUERY or --rule ID, not both")
    known = [s.id for s in config.sources]
    if args.source is not None and args.source not in known:
        listed = f"configured: {', '.join(known)}" if known else "none is configured"
        raise ConfigError("--source", [("", f"no source {args.source!r} ({listed})")])
    # A rule is tested as the service runs it: its query, its events, its sources.
    text: str = args.query
    events: tuple[EventType, ...] | None = None  # None: a rule's default events
    sources: tuple[str, ...] | None = None  # None: every source
    if args.rule is not None:
        ids = [r.id for r in config.rules]
        if args.rule not in ids:
            near = difflib.get_close_matches(args.rule, ids, n=1, cutoff=0.0)
            listed = ", ".join(ids) + (f"; nearest: {near[0]}" if near else "") if ids else "none"
            raise ConfigError("--rule", [("", f"no rule {args.rule!r} (configured: {listed})")])
        if args.events is not None:
            return usage("--events is for a QUERY: --rule counts the rule's own events")
        rule = config.rule(args.rule)
        text, events = rule.query, rule.events
        sources = rule.sources
    if args.events is not None:
        names = [name.strip() for name in args.events.split(",") if name.strip()]
        known_events = [e.value for e in EventType]
        every = ", ".join(known_events)
        unknown = [name for name in names if name not in known_events]
        if unknown or not names:
            found = f"no event {unknown[0]!r}" if unknown else "no event given"
            return usage(f"--events: {found} (events are {every})")
        events = tuple(EventType(name) for name in names)
    if args.source is not None:
        if sources is not None and args.source not in sources:
            return usage(
                f"--source: rule {args.rule!r} does not apply to source {args.source!r} "
                f"(its sources: {', '.join(sources)})"
            )
        sources = (args.source,)
    try:
        query = parse(text, synonyms=config.synonyms)
    except QuerySyntaxError as exc:
        return usage(f"invalid query: {exc}\n{exc.pointer()}")
    today = datetime.now(config.tz).date()
    since = None
    if args.since is not None:
        try:
            since = backtest.parse_since(args.since, today)
        except ValueError as exc:
            return usage(f"--since: {exc}")
    store = open_store(config.store_url)
    try:
        store.migrate()
        result = backtest.search(
            store,
            query,
            events=events,
            sources=sources,
            since=since,
            newest=max(args.newest, 0),
            rule=args.rule,
        )
    finally:
        store.close()
    backfill = backtest_report.backfill_commands(result, today, args.config)
    if args.json:
        report = backtest_report.report_json(result, backfill)
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(backtest_report.report_text(result, backfill), end="")
    return EXIT_OK


def _backfill(config: Config, args: argparse.Namespace) -> int:
    from watcher import pipeline, service

    known = [s.id for s in config.sources]
    if not known:
        raise ConfigError("sources", [("", "no source is configured: nothing to backfill")])
    if args.source is not None and args.source not in known:
        raise ConfigError(
            "--source", [("", f"no source {args.source!r} (configured: {', '.join(known)})")]
        )
    until = args.until or datetime.now(config.tz).date()
    if args.since > until:
        raise ConfigError("--since", [("", f"--since {args.since} is after --until {until}")])
    sources = [args.source] if args.source else known
    total = len(sources) * len(pipeline.backfill_chunks(args.since, until))
    progress = Progress(total)
    svc = service.build(config)
    try:
        runs = {
            source_id: pipeline.backfill(
                svc, source_id, args.since, until, progress=progress.chunk_done
            )
            for source_id in sources
        }
    finally:
        progress.close()
        service.close(svc)
    failed = False
    for source_id, reports in runs.items():
        print(
            f"backfill {source_id} {args.since}..{until}: "
            f"listed {sum(r.listed for r in reports)}, "
            f"fetched {sum(r.fetched for r in reports)}, "
            f"stored {sum(r.stored for r in reports)} new version(s)"
        )
        left = len({key for r in reports for key in r.left})
        if left:
            print(
                f"  {left} change(s) to items already stored were left for polling to alert "
                f"on: watcher run --once --since {args.since}"
            )
        bad = next((r for r in reports if r.error), None)
        if bad is not None:
            failed = True
            print(
                f"  FAILED at {bad.start}..{bad.end}: {bad.error}\n"
                f"  resume with: watcher backfill --since {bad.start} --until {until} "
                f"--source {source_id}"
            )
    return EXIT_FAILED if failed else EXIT_OK


class Progress:
    """Backfill progress on stderr: a bar on a terminal, else ``event=backfill_progress`` lines."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()

    def chunk_done(self, report: BackfillReport) -> None:
        self.done += 1
        if self._tty:
            filled = round(30 * self.done / max(self.total, 1))
            self._stream.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                f"{report.source} {report.start}..{report.end}"
            )
        else:
            self._stream.write(
                f"event=backfill_progress done={self.done} total={self.total} "
                f"source={report.source} window={report.start}..{report.end} "
                f"stored={report.stored}{' failed=true' if report.error else ''}\n"
            )
        self._stream.flush()

    def close(self) -> None:
        if self._tty and self.done:
            self._stream.write("\n")
            self._stream.flush()


def _templates(args: argparse.Namespace) -> int:
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


def _status(config: Config) -> int:
    from watcher.service import open_migrated_store

    store = open_migrated_store(config)
    try:
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
    print(f"healthy: last heartbeat {int(age.total_seconds())}s ago")
    return EXIT_OK
