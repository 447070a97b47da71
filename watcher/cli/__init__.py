"""The ``watcher`` command: parses arguments, runs one command, turns errors into exit codes.

    watcher run                 poll on schedule and send digests until SIGTERM/SIGINT
    watcher run --once          poll every source, send what is due, exit (1 if anything failed,
                                or another process kept polling a source past --wait)
    watcher check-config        validate the config and check what it needs (store, templates)
    watcher status              each source's last poll and error, the outbox's pending and dead
    watcher outbox list|show|retry|drop   what is waiting to be sent, or was given up on
    watcher health              exit 0 if a running service beats and its jobs work (HEALTHCHECK)
    watcher test-rule QUERY|--rule ID   what a rule would have sent, from stored history
    watcher backfill --since D  store a source's history without alerting anyone
    watcher templates export D  write the built-in templates to a folder, for editing
    watcher demo                the whole flow offline against recorded responses

The service's commands are in ``commands``, the history ones (test-rule, backfill) in
``history``, the outbox's in ``outbox``, check-config in ``watcher.preflight``.

Exit codes: 0 success, 1 a runtime failure (a source, a delivery, the store), 2 invalid config,
usage or query. No input ends in a traceback; an unexpected exception is a bug and is raised.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from watcher import __version__, logs
from watcher.cli import commands, history, outbox
from watcher.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from watcher.cli.commands import LEASE_WAIT
from watcher.config import DEFAULT_CONFIG_PATH, ConfigWarning, read
from watcher.errors import ConfigError, WatcherError
from watcher.logs import q

log = logging.getLogger("watcher")


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
            return commands.templates(args)
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
            return commands.status(config)
        if args.command == "health":
            return commands.health(config, args.max_age, args.max_failures)
        if args.command == "test-rule":
            return history.test_rule(config, args)
        if args.command == "backfill":
            return history.backfill(config, args)
        if args.command == "outbox":
            return outbox.run(config, args)
        return commands.run(config, once=args.once, since=args.since, wait=args.wait)
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
    run.add_argument(
        "--wait",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="with --once: how long to wait for a source another process is polling "
        f"(default {LEASE_WAIT}); a source still being polled then is left to that process "
        "and the exit code is 1",
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
    health = command(
        "health", "exit 0 if the running service beat recently and its polls and sends work"
    )
    health.add_argument(
        "--max-age",
        type=int,
        default=180,
        metavar="SECONDS",
        help="how old the last heartbeat may be (default 180)",
    )
    health.add_argument(
        "--max-failures",
        type=_at_least_one,
        default=3,
        metavar="N",
        help="unhealthy once a poll or send job failed its last N runs (default 3); "
        "a job that raised is unhealthy at once",
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
    outbox.add_parsers(commands, common)
    return parser


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return number


def _seconds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 0 or more")
    return number


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
