"""``watcher check-config``: everything a service needs, checked before it has to work at 3 a.m.

Beyond the validation every command does when it reads the config, the preflight:

- prints what the config sets up, as written: durations (``15m``), each channel's host and
  port or folder, ``contact``, ``templates``, the outbox;
- opens the store without changing it: connects, and reports the migrations the next start
  will apply (``Store.schema_status``);
- checks that the data folder, the SQLite file's folder and every files-channel folder can be
  written, naming the path and the operating system's reason;
- compiles every template, built-in and the user's, and renders a sample digest through each
  subscription, so a template that only fails when rendered fails here;
- prints the config's warnings (``config.advice``);
- with ``--send-test SUBSCRIPTION_ID``, sends one small message through that subscription's
  channel and prints what the peer answered.

Exit codes: 0 when every check passed (warnings included), 1 when the environment failed a
check (store unreachable, folder not writable, test message refused), 2 for a config that is
wrong (a template that does not compile or render, an unknown subscription).
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from watcher.channels import ChannelContext, min_interval, open_channel
from watcher.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from watcher.config import (
    AppriseChannelConfig,
    Config,
    DiscordChannelConfig,
    FeedSourceConfig,
    FilesChannelConfig,
    Loaded,
    NiQuestionsSourceConfig,
    ParliamentSourceConfig,
    ScottishQuestionsSourceConfig,
    SlackChannelConfig,
    SmtpChannelConfig,
    Subscription,
    TeamsChannelConfig,
    WebhookChannelConfig,
    format_duration,
)
from watcher.errors import ConfigError, StoreError, WatcherError
from watcher.kinds import kind_of
from watcher.kinds.questions import WRITTEN_QUESTIONS
from watcher.logs import masked_url, redact_url
from watcher.model import Digest, DigestItem, Event, EventType, Text
from watcher.render import Renderer, source_licences


@dataclass
class _Report:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # the environment failed a check
    wrong: list[ConfigError] = field(default_factory=list)  # the config is wrong after all

    def say(self, line: str) -> None:
        self.lines.append(line)

    def fail(self, problem: str) -> str:
        self.failures.append(problem)
        return f"FAILED: {problem}"


def run(config_path: str, loaded: Loaded, send_test: str | None = None) -> int:
    """Check everything and print the report; the exit code. Raises ``ConfigError`` for a
    config that is wrong (the CLI prints it and exits 2)."""
    config = loaded.config
    subscription = _subscription(config_path, config, send_test) if send_test else None
    report = _Report()
    report.say(f"config: {config_path}")
    _store(config, report)
    report.say(f"data_dir: {_place(Path(config.data_dir), report)}")
    report.say(f"timezone: {config.timezone}")
    report.say(f"contact: {config.contact or 'none (the User-Agent names no contact)'}")
    _templates(config, report)
    _summary(config, report)
    _apprise_urls(config_path, config, report)
    for warning in loaded.warnings:
        report.say(f"warning: {config_path}: {warning}")
    if subscription is not None:
        _send_test(config, subscription, report)
    print("\n".join(report.lines))
    if report.wrong:
        print(
            "watcher: invalid configuration\n" + "\n".join(str(e) for e in report.wrong),
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if report.failures:
        print(
            f"preflight FAILED ({len(report.failures)} problem"
            f"{'s' if len(report.failures) > 1 else ''}):\n"
            + "\n".join(f"  {f}" for f in report.failures)
        )
        return EXIT_FAILED
    warned = f" ({len(loaded.warnings)} warning{'s' * (len(loaded.warnings) != 1)})"
    print("config OK" + (warned if loaded.warnings else ""))
    return EXIT_OK


# --- the store and the folders -------------------------------------------------------------


def _store(config: Config, report: _Report) -> None:
    from watcher.store import open_store

    name = f"store: {redact_url(config.store_url)}"
    try:
        store = open_store(config.store_url)
        try:
            status = store.schema_status()
        finally:
            store.close()
    except StoreError as exc:
        report.say(f"{name} ({report.fail(f'store {redact_url(config.store_url)}: {exc}')})")
        return
    if not status.exists:
        state = f"new: {len(status.pending)} migration(s) to apply at the first start"
    elif status.pending:
        pending = ", ".join(f"{m.version} {m.name}" for m in status.pending)
        version = max(status.applied, default=0)
        state = f"reachable, schema version {version}; the next start applies {pending}"
    else:
        state = f"reachable, schema version {max(status.applied, default=0)}, up to date"
    if status.unknown:
        newer = ", ".join(str(v) for v in status.unknown)
        state += "; " + report.fail(
            f"store {redact_url(config.store_url)}: schema version(s) {newer} come from a newer "
            "release of watcher: run that release, or a newer one"
        )
    report.say(f"{name} ({state})")
    database = _sqlite_path(config.store_url)
    if database is not None and database.parent != Path(config.data_dir):
        report.say(f"store folder: {_place(database.parent, report)}")


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def _place(folder: Path, report: _Report) -> str:
    """A folder as written, where a relative one really is, and whether it can be written."""
    where = "" if folder.is_absolute() else f"{folder.resolve()}; "
    return f"{folder} ({where}{_writable(folder, report)})"


def _writable(folder: Path, report: _Report) -> str:
    """Whether ``folder`` can be written, or created and written: tried, not guessed (the
    permission bits say nothing for root or on a read-only mount)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return report.fail(f"{folder}: cannot be created: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".watcher-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        what = "cannot be written" if existing == folder else f"cannot be created in {existing}"
        return report.fail(f"{folder}: {what}: {exc.strerror or exc}")
    return "writable" if existing == folder else "will be created"


# --- templates ----------------------------------------------------------------------------


def _templates(config: Config, report: _Report) -> None:
    renderer = Renderer(config.templates, source_licences(config))
    try:
        renderer.check()
        digest = _sample_digest()
        for sub in config.resolved_subscriptions():
            channel = config.channel(sub.channel)
            if channel is not None:
                renderer.render(digest, channel.format, sub, config.tz, sender=channel.sender)
    except ConfigError as exc:
        report.wrong.append(exc)
        report.say(f"templates: {config.templates or 'built-in'} (FAILED: see below)")
        return
    if config.templates is None:
        report.say("templates: built-in (compiled, sample digest rendered)")
        return
    overrides = ", ".join(renderer.overrides) or "none of the built-in ones"
    report.say(
        f"templates: {config.templates} (compiled, sample digest rendered; replaces {overrides})"
    )


_DEFAULTS = (
    f"default (questions: {','.join(WRITTEN_QUESTIONS.default_events)}; "
    f"other items: {','.join(kind_of('feed_entry').default_events)})"
)


def _sample_digest() -> Digest:
    """A digest with an answer and a correction of the recorded seed question, so that every
    branch a template is likely to have is rendered."""
    from watcher.kinds.questions import revise
    from watcher.sources.parliament import parse_question
    from watcher.testing import load_fixtures

    [seed] = [v for v in load_fixtures() if v.get("uin") == "8602"]
    answered = parse_question(seed, "sample")
    old = answered.text("answer") or Text("<p>An earlier answer.</p>", "An earlier answer.")
    corrected = revise(
        answered,
        answer=Text(old.html.replace("<p>", "<p>Corrected: ", 1), "Corrected: " + old.plain),
        is_correction=True,
        date_corrected=date(2024, 1, 22),
        original_answer=old,
    )
    return Digest(
        subscription_id="sample",
        items=(
            DigestItem(Event(EventType.ANSWERED, answered), ("sample-rule",), ()),
            DigestItem(Event(EventType.CORRECTED, corrected, answered), ("sample-rule",), ()),
        ),
        period_end=datetime(2024, 1, 22, 9, 0, tzinfo=UTC),
        cadence="immediate",
    )


# --- what the config sets up --------------------------------------------------------------


def _without_query(url: str) -> str:
    """A feed's URL for the report: its query may hold a private feed's token."""
    base, query, _ = url.partition("?")
    return redact_url(base) + ("?…" if query else "")


def _devolved_summary(s: ScottishQuestionsSourceConfig | NiQuestionsSourceConfig) -> str:
    limits = (
        f"year files up to {s.max_bytes // (1024 * 1024)} MB within "
        f"{format_duration(s.deadline)}, the year before read for windows starting within "
        f"{s.previous_year_days} days of 1 January, "
        if isinstance(s, ScottishQuestionsSourceConfig)
        else ""
    )
    return (
        f"source {s.id}: {s.kind} {s.base_url} every {format_duration(s.every)}, "
        f"lookback {s.lookback_days} days, {limits}timeout {format_duration(s.timeout)}"
    )


def _web_summary(
    c: SlackChannelConfig
    | TeamsChannelConfig
    | DiscordChannelConfig
    | WebhookChannelConfig
    | AppriseChannelConfig,
) -> str:
    """A chat, webhook or Apprise channel as it may be shown: its URL masked."""
    pace = min_interval(c)
    every = f"posts at least {format_duration(pace)} apart" if pace else "no pace"
    signed = ", signed (Standard Webhooks)" if isinstance(c, WebhookChannelConfig) else ""
    if isinstance(c, AppriseChannelConfig):
        return f"apprise {masked_url(c.url)} (best effort), timeout {format_duration(c.timeout)}"
    queued = " (202: queued by Power Automate)" if isinstance(c, TeamsChannelConfig) else ""
    return (
        f"{c.kind} {masked_url(c.url)}{queued}, {every}{signed}, "
        f"timeout {format_duration(c.timeout)}"
    )


def _apprise_urls(config_path: str, config: Config, report: _Report) -> None:
    """Apprise URLs Apprise cannot use: wrong config, found before the first send."""
    apprise = [(i, c) for i, c in enumerate(config.channels) if isinstance(c, AppriseChannelConfig)]
    if not apprise:
        return
    from watcher.channels.apprise import problem  # imports Apprise, which takes a moment

    problems = [(f"channels[{i}].url", p) for i, c in apprise if (p := problem(c.url))]
    if problems:
        report.wrong.append(ConfigError(config_path, problems))


def _summary(config: Config, report: _Report) -> None:
    for s in config.sources:
        if isinstance(s, FeedSourceConfig):
            report.say(
                f"source {s.id}: feed {_without_query(s.url)} every {format_duration(s.every)}, "
                f"first poll alerts {s.lookback_days} days back, "
                f"timeout {format_duration(s.timeout)}"
            )
            continue
        if isinstance(s, ScottishQuestionsSourceConfig | NiQuestionsSourceConfig):
            report.say(_devolved_summary(s))
            continue
        windows = (
            f"windows {', '.join(s.windows)}, " if isinstance(s, ParliamentSourceConfig) else ""
        )
        report.say(
            f"source {s.id}: {s.kind} {s.base_url} every {format_duration(s.every)}, "
            f"lookback {s.lookback_days} days, {' and '.join(s.houses)}, "
            f"{windows}timeout {format_duration(s.timeout)}"
        )
    for c in config.all_channels():
        if isinstance(c, SmtpChannelConfig):
            login = f", login {c.username}" if c.username else ", no login"
            report.say(
                f"channel {c.id}: smtp {c.host}:{c.port} {c.security}{login}, from {c.from_}"
            )
        elif isinstance(c, FilesChannelConfig):
            folder = c.folder(config.data_dir)
            report.say(f"channel {c.id}: files, outbox {_place(folder, report)}, from {c.from_}")
        else:
            report.say(f"channel {c.id}: {_web_summary(c)}")
    report.say(
        f"delivery: retry after up to {format_duration(config.delivery.retry_first)}, doubling "
        f"to {format_duration(config.delivery.retry_max)}; dead after failing for "
        f"{format_duration(config.delivery.give_up_after)}; a message being sent is held for "
        f"{format_duration(config.delivery.claim_for)}"
        + ("; private network addresses allowed" if config.allow_private_networks else "")
    )
    for r in config.rules:
        sources = ",".join(r.sources) if r.sources is not None else "all"
        events = ",".join(e.value for e in r.events) if r.events is not None else _DEFAULTS
        report.say(f"rule {r.id}: {r.query}  events={events} sources={sources}")
    for sub in config.resolved_subscriptions():
        report.say(
            f"subscription {sub.id}: rules={','.join(sub.rules)} channel={sub.channel} "
            f"{_to(sub.to)}digest={sub.digest}"
        )
    for op in config.resolved_operators():
        report.say(f"operator {op.id}: channel={op.channel} {_to(op.to)}".rstrip())
    for s in config.sources:
        quiet = (
            f", silent after {format_duration(s.expect_new_within)} ({s.expect_new_days} days)"
            if s.expect_new_within is not None
            else ""
        )
        report.say(
            f"health {s.id}: alert after {s.failure_threshold} failed polls, "
            f"{s.parse_error_threshold:.0%} unparsable{quiet}"
        )


def _to(addresses: tuple[str, ...]) -> str:
    """``to=...`` and a space, or nothing for a channel whose URL decides where messages go."""
    return f"to={','.join(addresses)} " if addresses else ""


# --- --send-test ---------------------------------------------------------------------------


def _subscription(config_path: str, config: Config, wanted: str) -> Subscription:
    subs = {s.id: s for s in config.resolved_subscriptions()}
    if wanted in subs:
        return subs[wanted]
    close = difflib.get_close_matches(wanted, list(subs), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    known = ", ".join(subs) or "none"
    raise ConfigError(
        "--send-test", [("", f"no subscription {wanted!r} in {config_path} ({hint}known: {known})")]
    )


def _send_test(config: Config, sub: Subscription, report: _Report) -> None:
    now = datetime.now(UTC)
    channel_config = next(c for c in config.all_channels() if c.id == sub.channel)
    message = Renderer(config.templates, source_licences(config)).test_message(
        sub, f"test-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", now, channel_config.format
    )
    channel = open_channel(channel_config, ChannelContext.of(config))
    try:
        answer = channel.send(message, sub.to)
    except WatcherError as exc:
        report.say(f"test message for {sub.id}: {report.fail(f'test message not sent: {exc}')}")
        return
    finally:
        channel.close()
    to = f" to {', '.join(sub.to)}" if sub.to else ""
    report.say(f"test message for {sub.id} via {sub.channel}{to}: {answer}")
