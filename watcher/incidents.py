"""Source health: from a source's state before a poll and what the poll saw, which incidents
open or close, and the notices operators get for it. Pure: no I/O, no clock of its own.

Three kinds of incident, each open at most once at a time per source:

    failing     ``failure_threshold`` consecutive polls failed (``SourceState.error_count``);
                closes at the first poll that completes. Since: the first failure of the run.
    silent      a source with ``expect_new_within`` brought nothing new for that long,
                counted in working time (``workdays``) unless ``expect_new_days: all``;
                closes when something new arrives. Since: the last new item (or the first
                poll, when nothing new ever came). Only a poll whose listing was read judges
                silence: a failing source is ``failing``, not also ``silent``.
    unparsable  a poll could not parse its listing, or more than ``parse_error_threshold`` of
                the items it read (``watcher.errors.ParseError``); closes at the first poll
                whose listing was read without a parse error, so a source hovering around the
                threshold is one incident, not one per poll.

An incident makes exactly two notices: one when it opens, one when it closes, each named by
(source, kind, opened or closed, since), so storing a notice twice is storing it once
(``store.commit``). What to do with a notice (render, send, retry) is left to
``watcher.operators``; the pipeline commits the decision with the poll, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from watcher.config.sources import SourceHealth
from watcher.workdays import working_time


class Kind(StrEnum):
    FAILING = "failing"
    SILENT = "silent"
    UNPARSABLE = "unparsable"


@dataclass(frozen=True)
class Notice:
    """An incident opened (``opened``) or closed, for the operators."""

    source: str
    kind: Kind
    opened: bool
    since: datetime  # when the incident began: with the rest, what names it
    at: datetime  # the poll that decided it
    detail: str  # one line: the error, how long it has been quiet, what did not parse


@dataclass(frozen=True)
class Policy:
    """A source's health settings (``config.SourceHealth``) and the config's time zone."""

    failure_threshold: int = 3
    parse_error_threshold: float = 0.25
    expect_new_within: timedelta | None = None
    working_days_only: bool = True
    tz: tzinfo = UTC


@dataclass(frozen=True)
class Before:
    """What the store knew of the source before this poll."""

    error_count: int = 0  # consecutive failed polls
    failing_since: datetime | None = None  # the first failure of the current run
    last_new_at: datetime | None = None
    first_poll: datetime | None = None
    open: Mapping[Kind, datetime] = field(default_factory=dict)  # open incidents, since when


@dataclass(frozen=True)
class Seen:
    """What one poll saw."""

    at: datetime  # when it started
    error: str | None = None  # its error summary; None: it completed
    listing_read: bool = True  # False: the listing failed (fetch or parse) before its end
    listing_unparsable: bool = False  # the listing's failure was a ParseError
    items: int = 0  # items it read or tried to read (records and item errors)
    parse_errors: int = 0  # item ParseErrors (the listing's excluded)
    new: int = 0  # items never stored before


@dataclass(frozen=True)
class Decision:
    open: dict[Kind, datetime]  # the incidents open after this poll
    failing_since: datetime | None  # None: this poll completed
    notices: tuple[Notice, ...] = ()


def decide(source: str, before: Before, seen: Seen, policy: Policy) -> Decision:
    """The incidents open after ``seen``, and the notices for those that opened or closed."""
    open_ = dict(before.open)
    notices: list[Notice] = []

    def opens(kind: Kind, since: datetime, detail: str) -> None:
        if kind not in open_:
            open_[kind] = since
            notices.append(Notice(source, kind, True, since, seen.at, detail))

    def closes(kind: Kind, detail: str) -> None:
        since = open_.pop(kind, None)
        if since is not None:
            notices.append(Notice(source, kind, False, since, seen.at, detail))

    # failing
    failing_since: datetime | None = None
    if seen.error is not None:
        continuing = before.error_count > 0 and before.failing_since is not None
        failing_since = before.failing_since if continuing else seen.at
        assert failing_since is not None
        failures = before.error_count + 1
        if failures >= policy.failure_threshold:
            opens(Kind.FAILING, failing_since, f"{failures} failed polls in a row: {seen.error}")
    else:
        closes(Kind.FAILING, f"polled successfully after {before.error_count} failed polls")

    # unparsable
    if seen.listing_unparsable:
        opens(Kind.UNPARSABLE, seen.at, f"the listing did not parse: {seen.error}")
    elif seen.listing_read:
        share = seen.parse_errors / seen.items if seen.items else 0.0
        if seen.parse_errors and share > policy.parse_error_threshold:
            opens(
                Kind.UNPARSABLE,
                seen.at,
                f"{seen.parse_errors} of {seen.items} items did not parse: {seen.error}",
            )
        elif not seen.parse_errors:
            closes(Kind.UNPARSABLE, f"{seen.items} items parsed")

    # silent
    within = policy.expect_new_within
    if within is None:
        open_.pop(Kind.SILENT, None)  # no longer expected: nothing to recover from
    elif seen.new:
        closes(Kind.SILENT, f"{seen.new} new items")
    elif seen.listing_read:
        quiet_since = before.last_new_at or before.first_poll or seen.at
        quiet = quiet_for(quiet_since, seen.at, policy)
        if quiet > within:
            opens(Kind.SILENT, quiet_since, f"nothing new for {_hours(quiet)} {_counted(policy)}")

    return Decision(open_, failing_since, tuple(notices))


def quiet_for(since: datetime, now: datetime, policy: Policy) -> timedelta:
    """How long the source has been quiet, as ``expect_new_within`` counts it."""
    if policy.working_days_only:
        return working_time(since, now, policy.tz)
    return max(now - since, timedelta(0))


def _hours(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 72 else f"{hours / 24:.1f} days"


def _counted(policy: Policy) -> str:
    return "of working time" if policy.working_days_only else "(every day counted)"


def policy_of(config: object, tz: tzinfo) -> Policy:
    """A source config's health settings; the defaults for a config without them (every
    source config is a ``SourceHealth``; one added without the base still gets alerts)."""
    if not isinstance(config, SourceHealth):
        return Policy(tz=tz)
    return Policy(
        failure_threshold=config.failure_threshold,
        parse_error_threshold=config.parse_error_threshold,
        expect_new_within=config.expect_new_within,
        working_days_only=config.expect_new_days == "working",
        tz=tz,
    )
