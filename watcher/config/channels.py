"""The channels' sections of the configuration, and how the outbox retries (``delivery``):
frozen, validated pydantic models. A channel says which message ``format`` it sends and
whether a subscription names its recipients (``targets``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from watcher.config.base import Duration, Frozen, Timeout

BUILTIN_CHANNEL = "files"

ChannelId = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Channel(Frozen):
    """What every channel has. ``format`` names the renderer's output it sends
    (``watcher.render.FORMATS``); ``targets`` says whether a subscription names recipients
    (email) or the channel's own URL decides where messages go (chat, webhooks)."""

    id: ChannelId
    timeout: Timeout = timedelta(seconds=30)

    @property
    def format(self) -> str:
        return "email"

    @property
    def targets(self) -> bool:
        return False

    @property
    def sender(self) -> str:
        """The From address, shown in an email's footer; "" for channels without one."""
        return ""


class SmtpChannelConfig(_Channel):
    kind: Literal["smtp"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    from_: str = Field(alias="from", min_length=3)
    # Where List-Unsubscribe's mailto: goes; default the From address.
    unsubscribe: str | None = None
    # Sessions a send pass may hold at once (the sender sends a few messages in parallel).
    connections: int = Field(default=4, ge=1, le=32)

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpChannelConfig:
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together: set both or neither")
        return self

    @property
    def targets(self) -> bool:
        return True

    @property
    def sender(self) -> str:
        return self.from_


class FilesChannelConfig(_Channel):
    """Writes each digest as an .eml file; the built-in channel when none is configured."""

    kind: Literal["files"]
    path: str | None = None  # default: <data_dir>/outbox
    from_: str = Field(default="Parliament Watcher <watcher@localhost>", alias="from")

    def folder(self, data_dir: str) -> Path:
        """Where the files go."""
        return Path(self.path) if self.path else Path(data_dir) / "outbox"

    @property
    def targets(self) -> bool:
        return True

    @property
    def sender(self) -> str:
        return self.from_


_BUILTIN = FilesChannelConfig(id=BUILTIN_CHANNEL, kind="files")


def _web_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        # Never echo the value: a webhook URL is a credential.
        raise ValueError("must be an http(s) URL with a host (https://...)")
    return v


WebUrl = Annotated[str, AfterValidator(_web_url)]


class _WebChannel(_Channel):
    """A channel that POSTs to one URL. The URL is used exactly as configured (Teams Workflows
    URLs carry ``api-version``, ``sp``, ``sv`` and ``sig``); its path and query are a secret."""

    url: WebUrl
    # The least time between two posts to this URL from one process: the peer's rate limit.
    min_interval: Duration | None = None


class SlackChannelConfig(_WebChannel):
    kind: Literal["slack"]

    @property
    def format(self) -> str:
        return "slack"


class TeamsChannelConfig(_WebChannel):
    kind: Literal["teams"]

    @property
    def format(self) -> str:
        return "teams"


class DiscordChannelConfig(_WebChannel):
    kind: Literal["discord"]

    @property
    def format(self) -> str:
        return "discord"


def _whsec(v: str) -> str:
    body = v.removeprefix("whsec_")
    try:
        key = base64.b64decode(body + "==", validate=False)
    except (binascii.Error, ValueError):
        key = b""
    if not v.startswith("whsec_") or len(key) < 16:
        raise ValueError(
            "must be a Standard Webhooks secret: whsec_ then at least 16 bytes in base64 "
            '(make one with: python3 -c "import base64,os;'
            "print('whsec_'+base64.b64encode(os.urandom(32)).decode())\")"
        )
    return v


class WebhookChannelConfig(_WebChannel):
    kind: Literal["webhook"]
    secret: Annotated[str, AfterValidator(_whsec)]

    @property
    def format(self) -> str:
        return "webhook"


class AppriseChannelConfig(_Channel):
    """Any Apprise URL (ntfy://, matrix://, tgram:// ...): best effort, as Apprise reports only
    success or failure."""

    kind: Literal["apprise"]
    url: str = Field(min_length=3)

    @property
    def format(self) -> str:
        return "apprise"


ChannelConfig = Annotated[
    SmtpChannelConfig
    | FilesChannelConfig
    | SlackChannelConfig
    | TeamsChannelConfig
    | DiscordChannelConfig
    | WebhookChannelConfig
    | AppriseChannelConfig,
    Field(discriminator="kind"),
]


class DeliveryConfig(Frozen):
    """How the outbox retries: the n-th retry waits a random time up to ``retry_first`` ×
    2^(n-1) (full jitter), at most ``retry_max``, or longer if the peer asked; a message that
    has failed for ``give_up_after`` is dead (``watcher outbox retry`` revives it).

    ``claim_for`` is how long a sender holds a message it is sending: one that dies mid-send
    (killed, the machine lost) has it sent again by another sender, or the next start, once
    the claim ends. It must outlast the longest send (a channel's timeout for each part, and
    the pauses between parts), or a slow send could be doubled by another replica."""

    retry_first: Timeout = timedelta(minutes=1)
    retry_max: Timeout = timedelta(hours=1)
    give_up_after: Timeout = timedelta(days=3)
    claim_for: Timeout = timedelta(minutes=5)
