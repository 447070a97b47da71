"""What every message format shares: the prepared digest a format renders from, and the shape
of a format. Pure.

A format is a name (what a channel's ``format`` says), the built-in templates it uses (which
``watcher templates export`` writes out and a user may override), two functions and the
template filters it brings: ``digest`` renders a prepared digest into a ``Message``; ``note``
turns an email-shaped note (a test message, an operator's notice: subject, text, HTML,
headers) into this format's ``Message``; ``filters`` are what its templates escape with
(``slack``, ``discord_marked`` ...), registered by name for every template, so their names
carry the format's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from watcher.config import Subscription
from watcher.model import Digest, Message
from watcher.render.items import CHANGE_KEY_TEXT, ItemView, change_key_html, long_date
from watcher.text import strip_control

MAX_SUBJECT = 200


class Licence(NamedTuple):
    """A licence line and where to read the licence ("" when there is no page to link)."""

    text: str
    url: str = ""


class Templates(Protocol):
    def template(self, name: str, context: Mapping[str, object]) -> str:
        """Render the template ``name`` (the user's, else the built-in one)."""
        ...


@dataclass(frozen=True)
class DigestContext:
    """A digest made ready for any format: its items as views, numbered from 1."""

    digest: Digest
    subscription: Subscription
    items: tuple[ItemView, ...]
    licences: tuple[Licence, ...]
    key: str  # the idempotency key: Message-ID, webhook-id
    tz: ZoneInfo
    sender: str = ""
    references: tuple[str, ...] = ()  # Message-IDs this message follows up
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for item in self.digest.items for r in item.rule_ids))

    @property
    def period_end_text(self) -> str:
        local = self.digest.period_end.astimezone(self.tz)
        return f"{local:%H:%M} on {long_date(local)}"

    def template_context(self) -> dict[str, object]:
        """What templates see (the names earlier releases' templates use stay)."""
        licences = list(self.licences)
        return {
            "digest": self.digest,
            "subscription": self.subscription,
            "items": list(self.items),
            "rules": self.rules,
            "sender": self.sender,
            "period_end": self.digest.period_end.astimezone(self.tz),
            "period_end_text": self.period_end_text,
            "timezone": self.tz.key,
            "licences": licences,
            # The first, for templates written when every digest had one licence.
            "licence": licences[0].text if licences else "",
            "licence_url": licences[0].url if licences else "",
            "change_key_text": CHANGE_KEY_TEXT,
            "change_key_html": change_key_html(),
        }


@dataclass(frozen=True)
class Format:
    name: str
    templates: tuple[str, ...]
    digest: Callable[[DigestContext, Templates], Message]
    note: Callable[[Message], Message]
    filters: Mapping[str, Callable[..., str]] = field(default_factory=dict)


def one_line(value: str, limit: int) -> str:
    """``value`` as one line of at most ``limit`` characters, cut with an ellipsis."""
    line = strip_control(value)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
