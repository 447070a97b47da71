"""The configuration's shape: frozen, validated pydantic models, one per section (sources in
``sources``, channels and the delivery policy in ``channels``, durations and the base model in
``base``).

Reading a file into these (YAML, ``${VAR}``, error messages) is ``reading``'s job; advice on a
valid but doubtful config is ``advice``'s. Every value is checked here, with a message that
echoes the bad value and says what to write instead.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from watcher.config.base import Frozen
from watcher.config.channels import (
    _BUILTIN,
    BUILTIN_CHANNEL,
    ChannelConfig,
    DeliveryConfig,
    SmtpChannelConfig,
    WebUrl,
)
from watcher.config.sources import (
    SourceConfig,
)
from watcher.errors import QuerySyntaxError
from watcher.model import EventType

DEFAULT_CONFIG_PATH = "config/watcher.yaml"
MIN_SECRET_KEY = 32
_HOW_TO_MAKE_ONE = 'make one with: python3 -c "import secrets;print(secrets.token_urlsafe(32))"'

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- rules and subscriptions ---------------------------------------------------------------


class RuleConfig(Frozen):
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


class Cadence(Frozen):
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


class SubscriptionConfig(Frozen):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@+-]+$")
    rules: tuple[str, ...] = Field(min_length=1)
    channel: str | None = None  # default: the only channel configured, else the built-in one
    to: Recipients = ()
    digest: Annotated[Cadence, BeforeValidator(_cadence)] = Cadence(kind="immediate")


class OperatorConfig(Frozen):
    """Who hears about sources' health (``watcher.incidents``): a channel and recipients, as a
    subscription has, without rules."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@+-]+$")
    channel: str | None = None  # default: the only channel configured, else the built-in one
    to: Recipients = ()


class Operator(Frozen):
    """An operator after defaults are resolved: it always has an id and a channel."""

    id: str
    channel: str
    to: tuple[str, ...]


class Subscription(Frozen):
    """A subscription after defaults are resolved: it always has an id and a channel."""

    id: str
    rules: tuple[str, ...]
    channel: str
    to: tuple[str, ...]
    digest: Cadence


# --- the whole file ------------------------------------------------------------------------


class Config(Frozen):
    store: str | None = None  # default: sqlite:///<data_dir>/watcher.db
    data_dir: str = "data"
    timezone: str = "Europe/London"
    contact: str | None = None
    templates: str | None = None  # a folder whose templates override the built-in ones
    # Webhook and feed URLs may reach private, loopback and link-local addresses (an intranet
    # webhook, a test server); off, a connection to one is refused (watcher.http.guard).
    allow_private_networks: bool = False
    sources: tuple[SourceConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    # Synonym sets for ~NAME in rules: each expansion is one term or phrase, as query text.
    synonyms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    rules: tuple[RuleConfig, ...] = ()
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    operators: tuple[OperatorConfig, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()
    # Where this service's web pages are served (https://...): enables email's one-click
    # unsubscribe link. The page behind it is not built yet.
    public_url: WebUrl | None = None
    # Signs the unsubscribe links (watcher.unsubscribe): required with public_url. A secret:
    # write it as ${VAR}. Changing it makes the links in mail already sent stop working.
    secret_key: SecretStr | None = Field(default=None, validate_default=True)

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

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Never echo the value: it is the secret.
        if v is None:
            if info.data.get("public_url"):
                raise ValueError(
                    "required when public_url is set: it signs the unsubscribe links (write "
                    "secret_key: ${WATCHER_SECRET_KEY} and set that variable to a random value "
                    f"of at least {MIN_SECRET_KEY} characters: {_HOW_TO_MAKE_ONE})"
                )
            return v
        if len(v.get_secret_value()) < MIN_SECRET_KEY:
            raise ValueError(
                f"must be at least {MIN_SECRET_KEY} random characters ({_HOW_TO_MAKE_ONE})"
            )
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
        return (*self.channels, _BUILTIN)

    def channel(self, channel_id: str) -> ChannelConfig | None:
        return next((c for c in self.all_channels() if c.id == channel_id), None)

    def _targets(self, channel_id: str, to: tuple[str, ...], default: str) -> tuple[str, ...]:
        """A subscription's or operator's target: its addresses for a channel that takes
        them, nothing for one whose URL decides where messages go."""
        found = self.channel(channel_id)
        if found is not None and not found.targets:
            return ()
        return to or (default,)

    def resolved_subscriptions(self) -> tuple[Subscription, ...]:
        out = []
        for s in self.subscriptions:
            channel = s.channel or (
                self.channels[0].id if len(self.channels) == 1 else BUILTIN_CHANNEL
            )
            to = self._targets(channel, s.to, "subscriber@localhost")
            # Derived ids keep the shape earlier releases wrote, so pending rows stay owed.
            sid = s.id or ":".join(
                [channel, "+".join(sorted(s.rules)), *([",".join(sorted(to))] if to else [])]
            )
            out.append(Subscription(id=sid, rules=s.rules, channel=channel, to=to, digest=s.digest))
        return tuple(out)

    def resolved_operators(self) -> tuple[Operator, ...]:
        out = []
        for o in self.operators:
            channel = o.channel or (
                self.channels[0].id if len(self.channels) == 1 else BUILTIN_CHANNEL
            )
            to = self._targets(channel, o.to, "operator@localhost")
            oid = o.id or (f"{channel}:{','.join(sorted(to))}" if to else channel)
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
        elif to and not channels[resolved].targets:
            kind = channels[resolved].kind
            problems.append(
                (
                    f"{at}.to",
                    f"a {kind} channel takes no recipients: its url decides where messages "
                    "go (remove `to`, or add a channel per destination)",
                )
            )


def _unique(section: str, ids: list[str], problems: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            problems.append((f"{section}[{i}].id", f"{x!r} is used twice"))
        seen.add(x)
