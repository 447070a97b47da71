"""``watcher test-rule`` and ``watcher backfill``: a rule against stored history, and filling
that history without alerting anyone. The searching and the figures are ``backtest``'s; the
fetching and storing are the pipeline's; this module turns arguments into calls and prints."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from watcher.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from watcher.config import Config
from watcher.errors import ConfigError, QuerySyntaxError

if TYPE_CHECKING:
    from watcher.pipeline import BackfillReport


def test_rule(config: Config, args: argparse.Namespace) -> int:
    from watcher import backtest, backtest_report
    from watcher.match import parse
    from watcher.model import EventType
    from watcher.service import open_migrated_store

    def usage(problem: str) -> int:
        print(f"watcher: {problem}", file=sys.stderr)
        return EXIT_CONFIG

    if args.query is None and args.rule is None:
        return usage("test-rule needs a QUERY or --rule ID")
    if args.query is not None and args.rule is not None:
        return usage("test-rule takes a QUERY or --rule ID, not both")
    _known_source(config, args.source)
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
    store = open_migrated_store(config)
    try:
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
    backfill = backtest_report.backfill_commands(result, today, getattr(args, "config", None))
    if args.json:
        report = backtest_report.report_json(result, backfill)
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(backtest_report.report_text(result, backfill), end="")
    return EXIT_OK


def _known_source(config: Config, source: str | None) -> None:
    """``--source``, if given, must name a configured source (``ConfigError``: exit 2)."""
    known = [s.id for s in config.sources]
    if source is not None and source not in known:
        listed = f"configured: {', '.join(known)}" if known else "none is configured"
        raise ConfigError("--source", [("", f"no source {source!r} ({listed})")])


def backfill(config: Config, args: argparse.Namespace) -> int:
    from watcher import pipeline, service

    known = [s.id for s in config.sources]
    if not known:
        raise ConfigError("sources", [("", "no source is configured: nothing to backfill")])
    _known_source(config, args.source)
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
