"""Advice on a valid config that probably does not do what its author meant.

These are warnings, not errors: the service runs, and ``check-config`` prints them (exit 0).

- no sources (nothing is polled), no subscriptions (nothing is sent), a rule no subscription
  uses (its matches go to nobody);
- a query that YAML took the quotes off: ``query: "SEND workforce"`` is the YAML string
  ``SEND workforce``, which the query language reads as two words anywhere in an item, not the
  phrase. Only the file's YAML knows a string was double-quoted, so ``reading`` hands over those
  queries (``double_quoted_queries``) before anything else sees the values;
- an smtp channel with a password and ``security: none`` to a host that is not this machine
  (the password crosses the network in clear text: accepted, as some local relays need it);
- a ``public_url`` that is not https (mail clients offer one-click unsubscribe only for https).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from watcher.config.channels import SmtpChannelConfig
from watcher.config.model import Config

ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_WORD = re.compile(r"[\w'’*.-]+")
_OPERATORS = re.compile(r"(AND|OR|NOT|NEAR(/\d*)?)")
_QUOTES = '"“”'


@dataclass(frozen=True)
class ConfigWarning:
    path: str  # key path, as in ConfigError
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def double_quoted_queries(data: Mapping[str, Any]) -> dict[int, str]:
    """``rules[i].query`` values that the file wrote in double quotes, by rule index."""
    rules = data.get("rules")
    out: dict[int, str] = {}
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            query = rule.get("query") if isinstance(rule, dict) else None
            # reading's loader marks double-quoted strings with a str subclass.
            if isinstance(query, str) and type(query) is not str:
                out[i] = str(query)
    return out


def warnings(config: Config, double_quoted: Mapping[int, str]) -> tuple[ConfigWarning, ...]:
    found: list[ConfigWarning] = []
    if not config.sources:
        found.append(ConfigWarning("sources", "none configured: nothing will be polled"))
    if not config.subscriptions:
        found.append(
            ConfigWarning("subscriptions", "none configured: matches are stored, nobody is sent")
        )
    used = {rule_id for s in config.subscriptions for rule_id in s.rules}
    for i, rule in enumerate(config.rules):
        if config.subscriptions and rule.id not in used:
            found.append(
                ConfigWarning(
                    f"rules[{i}]",
                    f"no subscription uses rule {rule.id!r}: its matches are sent to nobody",
                )
            )
    for i, text in sorted(double_quoted.items()):
        run = unquoted_phrase(text)
        if run is not None:
            found.append(
                ConfigWarning(
                    f"rules[{i}].query",
                    f"YAML removed the quotes, so {run} matches "
                    f"{'each word' if len(run.split()) > 2 else 'both words'} anywhere in an "
                    f"item: write '\"{run}\"' in single quotes for the phrase",
                )
            )
    found += _channel_warnings(config)
    return tuple(found)


def _channel_warnings(config: Config) -> list[ConfigWarning]:
    found: list[ConfigWarning] = []
    for i, channel in enumerate(config.channels):
        if (
            isinstance(channel, SmtpChannelConfig)
            and channel.security == "none"
            and channel.password
            and not _this_machine(channel.host)
        ):
            found.append(
                ConfigWarning(
                    f"channels[{i}].security",
                    f"none with a username and password: the password crosses the network to "
                    f"{channel.host} in clear text; use starttls or ssl unless every network "
                    "between is trusted",
                )
            )
    if config.public_url and not config.public_url.lower().startswith("https://"):
        found.append(
            ConfigWarning(
                "public_url",
                "is not https: mail clients offer one-click unsubscribe (RFC 8058) only for "
                "https links, so digests carry the link without List-Unsubscribe-Post",
            )
        )
    return found


def _this_machine(host: str) -> bool:
    """A loopback host: a connection to it never leaves the machine."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def unquoted_phrase(query: str) -> str | None:
    """The first run of several plain words in a query without any quotes, which looks like a
    phrase whose quotes were lost; None if there is none."""
    if any(q in query for q in _QUOTES):
        return None
    run: list[str] = []
    for token in query.split():
        if _WORD.fullmatch(token) and not _OPERATORS.fullmatch(token):
            run.append(token)
            continue
        if len(run) > 1:
            break
        run = []
    return " ".join(run) if len(run) > 1 else None
