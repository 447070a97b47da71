"""The configuration's shape: frozen, validated pydantic models, one per section.

Reading a file into these (YAML, ``${VAR}``, error messages) is ``reading``'s job; advice on a
valid but doubtful config is ``advice``'s. Every value is checked here, with a message that
echoes the bad value and says what to write instead.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from watcher.errors import QuerySyntaxError
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE
from watcher.model import EventType

DEFAULT_CONFIG_PATH = "config/watcher.yaml"
PARLIAMENT_API = "https://questions-statements-api.parliament.uk"
HANSARD_API = "https://hansard-api.parliament.uk"
COMMITTEES_API = "https://committees-api.parliament.uk"
BUILTIN_CHANNEL = "files"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _duration(value: Any) -> Any:
    """``15m``, ``30s``, ``2h``, ``1d`` or ``250ms``. A bare number is refused: ``every: 15``
    would otherwise mean fifteen seconds to someone who meant minutes."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write {value}s, {value}m, {value}h or {value}d)")
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
                n = value.strip()
                raise ValueError(f"{value!r} has no unit (write {n}s, {n}m, {n}h or {n}d)")
            raise ValueError(f"{value!r} is not a duration (write e.g. 30s, 15m, 2h, 1d)")
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return value


def format_duration(value: timedelta) -> str:
    """A duration the way the config writes it: ``15m``, ``30s``, ``2h``, ``250ms``."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        size = round(_UNITS[unit] * 1000)
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _at_least(minimum: timedelta, why: str) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum:
            # The value as written is echoed by the caller, which still has it.
            raise ValueError(f"too short: {why}; write {format_duration(minimum)} or more")
        return value

    return AfterValidator(check)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
# A poll interval: the APIs we read are public services, polled politely.
PollInterval = Annotated[
    Duration, _at_least(timedelta(minutes=1), "sources are polled at most once a minute")
]
Timeout = Annotated[Duration, _at_least(timedelta(milliseconds=1), "a timeout must be positive")]
# How long a source may bring nothing new before operators hear of it.
Silence = Annotated[
    Duration, _at_least(timedelta(hours=1), "silence is judged over hours, not minutes")
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- source health (operator alerts, ``watcher.incidents``) ---------------------------------


class SourceHealth(_Frozen):
    """What every kind of source sets about its health: a base for each source config (a new
    source config inherits it and gets the same keys with the same defaults)."""

    # Consecutive failed polls before operators are alerted (and told again on recovery).
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    # Operators are alerted when a poll fails to parse more than this share of the items it
    # read (or its listing); 0 alerts on any parse error.
    parse_error_threshold: float = Field(default=0.25, ge=0, lt=1)
    # None: the source may be quiet for ever. Counted in working days (Monday to Friday in the
    # config's time zone, England & Wales bank holidays excepted) unless expect_new_days: all.
    expect_new_within: Silence | None = None
    expect_new_days: Literal["working", "all"] = "working"


# --- sources -------------------------------------------------------------------------------


class _ParliamentHttpConfig(SourceHealth):
    """What every source reading one of Parliament's JSON APIs by date window sets."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    base_url: str = PARLIAMENT_API
    every: PollInterval = timedelta(minutes=15)
    lookback_days: int = Field(default=3, ge=0, le=366)
    page_size: int = Field(default=100, ge=1, le=100)
    timeout: Timeout = timedelta(seconds=30)
    max_concurrency: int = Field(default=2, ge=1, le=8)
    max_per_second: float = Field(default=4.0, gt=0, le=20)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class _ParliamentApiConfig(_ParliamentHttpConfig):
    """What every source reading the Written Questions & Statements API sets."""

    houses: tuple[Literal["Commons", "Lords"], ...] = ("Commons", "Lords")


class ParliamentSourceConfig(_ParliamentApiConfig):
    """The UK Parliament Written Questions API."""

    kind: Literal["parliament_written_questions"]
    # Which list windows to poll; "tabled" finds new questions before they are answered.
    windows: tuple[Literal["answered", "corrected", "tabled"], ...] = (
        "answered",
        "corrected",
        "tabled",
    )
    # Once a day, the details of answers given in the last ``recheck_days`` are read again
    # (at most ``recheck_limit``), to find an answer edited past what the listing shows
    # without being flagged as a correction. 0 days: never.
    recheck_days: int = Field(default=7, ge=0, le=60)
    recheck_limit: int = Field(default=100, ge=1, le=1000)


class StatementsSourceConfig(_ParliamentApiConfig):
    """Written ministerial statements, from the same API (listed by the day they were made)."""

    kind: Literal["parliament_written_statements"]


class HansardSourceConfig(_ParliamentApiConfig):
    """Spoken and written contributions from the Hansard API's search, by sitting date."""

    kind: Literal["hansard"]
    base_url: str = HANSARD_API
    contributions: tuple[Literal["Spoken", "Written"], ...] = ("Spoken", "Written")


class CommitteePublicationsSourceConfig(_ParliamentHttpConfig):
    """Committee publications (reports, responses, letters) from the Committees API."""

    kind: Literal["committee_publications"]
    base_url: str = COMMITTEES_API
    # Which committees' publications; houses is applied to each publication's committee.
    houses: tuple[Literal["Commons", "Lords", "Joint"], ...] = ("Commons", "Lords", "Joint")
    committees: tuple[Annotated[int, Field(ge=1)], ...] = ()  # ids; () every committee
    publication_types: tuple[Annotated[int, Field(ge=1)], ...] = ()  # type ids; () every type


GOV_UK_HOST = "www.gov.uk"


class FeedSourceConfig(SourceHealth):
    """An RSS or Atom feed (``watcher.sources.feed``)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["feed"]
    url: str
    every: PollInterval = timedelta(minutes=15)
    # The first poll alerts the entries dated within this many days; older ones are stored.
    lookback_days: int = Field(default=3, ge=0, le=366)
    timeout: Timeout = timedelta(seconds=30)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)
    # The line digests carry for this feed's entries; None: GOV.UK's Open Government Licence
    # for www.gov.uk feeds, else nothing. "" says nothing even for GOV.UK.
    licence: str | None = None
    # GOV.UK's finder feeds carry a summary only: read each new or changed www.gov.uk entry's
    # body from the Content API (``content_api``) as its ``content``.
    fetch_content: bool = False
    content_api: str = "https://www.gov.uk/api/content"

    @field_validator("url", "content_api")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", v, re.IGNORECASE):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @property
    def licence_line(self) -> str:
        """The licence line this feed's digests carry (``licence``, or the default)."""
        if self.licence is not None:
            return self.licence
        host = re.sub(r"^https?://([^/?#:]+).*$", r"\1", self.url, flags=re.IGNORECASE)
        return OPEN_GOVERNMENT_LICENCE if host.lower() == GOV_UK_HOST else ""


SCOTTISH_PARLIAMENT_DATA = "https://data.parliament.scot"
NI_ASSEMBLY_DATA = "https://data.niassembly.gov.uk"


class _DevolvedQuestionsConfig(SourceHealth):
    """What both devolved written-question sources set (``watcher.sources.scottish``, ``.ni``)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # Questions listed are those lodged or answered within this many days before today.
    lookback_days: int = Field(default=3, ge=0, le=366)
    timeout: Timeout = timedelta(seconds=30)  # each socket operation
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class ScottishQuestionsSourceConfig(_DevolvedQuestionsConfig):
    """Scottish Parliament written questions: one JSON file per year, read whole."""

    kind: Literal["scottish_parliament_questions"]
    base_url: str = SCOTTISH_PARLIAMENT_DATA
    # A year's file is tens of MB and has no date filter: hourly, conditionally, is plenty
    # for answers that are published once a day.
    every: PollInterval = timedelta(hours=1)
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    deadline: Timeout = timedelta(minutes=5)  # one year's file, arriving whole
    # A window starting within this many days of 1 January reads the year before too: questions
    # lodged in December are answered in January, and stay in their lodging year's file.
    previous_year_days: int = Field(default=60, ge=0, le=366)


class NiQuestionsSourceConfig(_DevolvedQuestionsConfig):
    """Northern Ireland Assembly written questions answered in the window (AIMS JSON)."""

    kind: Literal["ni_assembly_questions"]
    base_url: str = NI_ASSEMBLY_DATA
    every: PollInterval = timedelta(minutes=30)
    max_concurrency: int = Field(default=2, ge=1, le=8)
    max_per_second: float = Field(default=2.0, gt=0, le=20)


SourceConfig = Annotated[
    ParliamentSourceConfig
    | StatementsSourceConfig
    | FeedSourceConfig
    | HansardSourceConfig
    | CommitteePublicationsSourceConfig
    | ScottishQuestionsSourceConfig
    | NiQuestionsSourceConfig,
    Field(discriminator="kind"),
]


# --- channels ------------------------------------------------------------------------------


class SmtpChannelConfig(_Frozen):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["smtp"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    from_: str = Field(alias="from", min_length=3)
    timeout: Timeout = timedelta(seconds=30)

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpChannelConfig:
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together: set both or neither")
        return self


class FilesChannelConfig(_Frozen):
    """Writes each digest as an .eml file; the built-in channel when none is configured."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["files"]
    path: str | None = None  # default: <data_dir>/outbox
    from_: str = Field(default="Parliament Watcher <watcher@localhost>", alias="from")

    def folder(self, data_dir: str) -> Path:
        """Where the files go."""
        return Path(self.path) if self.path else Path(data_dir) / "outbox"


ChannelConfig = Annotated[SmtpChannelConfig | FilesChannelConfig, Field(discriminator="kind")]


# --- rules and subscriptions ---------------------------------------------------------------


class RuleConfig(_Frozen):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    query: str = Field(min_length=1)
    # None: each kind's default events (a question's answers and corrections, any other
    # item's publication and updates).
    events: tuple[EventType, ...] | None = None
    sources: tuple[str, ...] | None = None  # default: every source

    @field_validator("query")
    @classmethod
    def _parses(cls, v: str, info: ValidationInfo) -> str:
        from watcher.match import parse  # the query language lives in match/

        # ``load``/``parse`` pass the file's synonyms: ~NAME must name one of them.
        context = info.context if isinstance(info.context, dict) else {}
        synonyms = context.get("synonyms")
        try:
            parse(v, synonyms=synonyms if isinstance(synonyms, dict) else None)
        except QuerySyntaxError as exc:
            if exc.query != v:
                return v  # a bad synonym expansion: reported once, under synonyms
            raise ValueError(f"{exc.problem} at position {exc.position}: {v!r}") from exc
        return v


class Cadence(_Frozen):
    """When a subscription's digest goes out: ``immediate``, ``daily HH:MM``,
    ``weekly DAY HH:MM``."""

    kind: Literal["immediate", "daily", "weekly"]
    at: time | None = None
    weekday: int | None = None  # 0 = Monday

    def __str__(self) -> str:
        if self.kind == "immediate" or self.at is None:
            return "immediate"
        hhmm = self.at.strftime("%H:%M")
        if self.kind == "daily" or self.weekday is None:
            return f"daily {hhmm}"
        return f"weekly {_WEEKDAYS[self.weekday]} {hhmm}"


def _cadence(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    words = value.lower().split()
    problem = (
        f"{value!r} is not a digest cadence (write immediate, daily 07:30 or weekly mon 07:30)"
    )
    try:
        if words == ["immediate"]:
            return Cadence(kind="immediate")
        if len(words) == 2 and words[0] == "daily":
            return Cadence(kind="daily", at=_hhmm(words[1]))
        if len(words) == 3 and words[0] == "weekly" and words[1][:3] in _WEEKDAYS:
            return Cadence(kind="weekly", at=_hhmm(words[2]), weekday=_WEEKDAYS.index(words[1][:3]))
    except ValueError:
        pass
    raise ValueError(problem)


def _hhmm(s: str) -> time:
    if not re.fullmatch(r"\d{1,2}:\d{2}", s):
        raise ValueError(s)
    h, m = (int(x) for x in s.split(":"))
    return time(h, m)


def _one_or_many(v: Any) -> Any:
    if isinstance(v, list | tuple) and not v:
        # An empty list is a mistake, not a wish for the default recipient.
        raise ValueError("[] lists no recipients (give at least one address)")
    return [v] if isinstance(v, str) else v


def _addresses(v: tuple[str, ...]) -> tuple[str, ...]:
    for address in v:
        if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+", address):
            raise ValueError(f"{address!r} is not an email address")
    return v


Recipients = Annotated[tuple[str, ...], BeforeValidator(_one_or_many), AfterValidator(_addresses)]


class SubscriptionConfig(_Frozen):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@+-]+$")
    rules: tuple[str, ...] = Field(min_length=1)
    channel: str | None = None  # default: the only channel configured, else the built-in one
    to: Recipients = ()
    digest: Annotated[Cadence, BeforeValidator(_cadence)] = Cadence(kind="immediate")


class OperatorConfig(_Frozen):
    """Who hears about sources' health (``watcher.incidents``): a channel and recipients, as a
    subscription has, without rules."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@+-]+$")
    channel: str | None = None  # default: the only channel configured, else the built-in one
    to: Recipients = ()


class Operator(_Frozen):
    """An operator after defaults are resolved: it always has an id and a channel."""

    id: str
    channel: str
    to: tuple[str, ...]


class Subscription(_Frozen):
    """A subscription after defaults are resolved: it always has an id and a channel."""

    id: str
    rules: tuple[str, ...]
    channel: str
    to: tuple[str, ...]
    digest: Cadence


# --- the whole file ------------------------------------------------------------------------


class Config(_Frozen):
    store: str | None = None  # default: sqlite:///<data_dir>/watcher.db
    data_dir: str = "data"
    timezone: str = "Europe/London"
    contact: str | None = None
    templates: str | None = None  # a folder whose templates override the built-in ones
    sources: tuple[SourceConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    # Synonym sets for ~NAME in rules: each expansion is one term or phrase, as query text.
    synonyms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    rules: tuple[RuleConfig, ...] = ()
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    operators: tuple[OperatorConfig, ...] = ()

    @field_validator("synonyms")
    @classmethod
    def _synonyms(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        from watcher.match.query import parse_expansion

        for name, expansions in v.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(f"synonym set name {name!r} may only use letters, digits, _ and -")
            if not expansions:
                raise ValueError(f"synonym set {name!r} needs at least one term")
            for i, text in enumerate(expansions):
                try:
                    parse_expansion(text)
                except QuerySyntaxError as exc:
                    raise ValueError(
                        f"{name}[{i}]: {exc.problem} at position {exc.position}: {text!r}"
                    ) from exc
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (write e.g. Europe/London)") from exc
        return v

    @field_validator("store")
    @classmethod
    def _store_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", v):
            raise ValueError(f"{v!r} is not a store URL (sqlite:///path or postgresql://...)")
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{Path(self.data_dir) / 'watcher.db'}"

    @property
    def user_agent(self) -> str:
        from watcher import __version__

        contact = f"; {self.contact}" if self.contact else ""
        return f"watcher/{__version__} (+https://github.com/watcher-uk/watcher{contact})"

    def rule(self, rule_id: str) -> RuleConfig:
        return next(r for r in self.rules if r.id == rule_id)

    def all_channels(self) -> tuple[ChannelConfig, ...]:
        """The configured channels plus the built-in files channel, unless its id is taken."""
        if any(c.id == BUILTIN_CHANNEL for c in self.channels):
            return self.channels
        return (*self.channels, FilesChannelConfig(id=BUILTIN_CHANNEL, kind="files"))

    def resolved_subscriptions(self) -> tuple[Subscription, ...]:
        out = []
        for s in self.subscriptions:
            channel = s.channel or (
                self.channels[0].id if len(self.channels) == 1 else BUILTIN_CHANNEL
            )
            to = s.to or ("subscriber@localhost",)
            sid = s.id or f"{channel}:{'+'.join(sorted(s.rules))}:{','.join(sorted(to))}"
            out.append(Subscription(id=sid, rules=s.rules, channel=channel, to=to, digest=s.digest))
        return tuple(out)

    def resolved_operators(self) -> tuple[Operator, ...]:
        out = []
        for o in self.operators:
            channel = o.channel or (
                self.channels[0].id if len(self.channels) == 1 else BUILTIN_CHANNEL
            )
            to = o.to or ("operator@localhost",)
            oid = o.id or f"{channel}:{','.join(sorted(to))}"
            out.append(Operator(id=oid, channel=channel, to=to))
        return tuple(out)

    def reference_problems(self) -> list[tuple[str, str]]:
        """Ids that are used twice or refer to nothing, as (key path, problem)."""
        problems: list[tuple[str, str]] = []
        _unique("sources", [s.id for s in self.sources], problems)
        _unique("channels", [c.id for c in self.channels], problems)
        _unique("rules", [r.id for r in self.rules], problems)
        source_ids = {s.id for s in self.sources}
        rule_ids = {r.id for r in self.rules}
        for i, r in enumerate(self.rules):
            for s in r.sources or ():
                if s not in source_ids:
                    problems.append((f"rules[{i}].sources", f"no source has id {s!r}"))
        for i, (sub, resolved) in enumerate(
            zip(self.subscriptions, self.resolved_subscriptions(), strict=True)
        ):
            for rule_id in sub.rules:
                if rule_id not in rule_ids:
                    problems.append((f"subscriptions[{i}].rules", f"no rule has id {rule_id!r}"))
            self._channel_problems(
                f"subscriptions[{i}]", sub.channel, sub.to, resolved.channel, problems
            )
        _unique("subscriptions", [s.id for s in self.resolved_subscriptions()], problems)
        for i, (op, resolved_op) in enumerate(
            zip(self.operators, self.resolved_operators(), strict=True)
        ):
            self._channel_problems(
                f"operators[{i}]", op.channel, op.to, resolved_op.channel, problems
            )
        _unique("operators", [o.id for o in self.resolved_operators()], problems)
        return problems

    def _channel_problems(
        self,
        at: str,
        given: str | None,
        to: tuple[str, ...],
        resolved: str,
        problems: list[tuple[str, str]],
    ) -> None:
        channels = {c.id: c for c in self.all_channels()}
        if given is None and len(self.channels) > 1:
            problems.append((f"{at}.channel", "required when several channels are configured"))
        elif resolved not in channels:
            problems.append(
                (
                    f"{at}.channel",
                    f"no channel has id {resolved!r} (known: {', '.join(sorted(channels))})",
                )
            )
        elif isinstance(channels[resolved], SmtpChannelConfig) and not to:
            problems.append((f"{at}.to", "an smtp channel needs recipients"))


def _unique(section: str, ids: list[str], problems: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            problems.append((f"{section}[{i}].id", f"{x!r} is used twice"))
        seen.add(x)
