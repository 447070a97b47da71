"""The Channel role: how a rendered message leaves the service.

``send(message, target)`` returns only once the peer has accepted the message (an SMTP server's
250, a webhook's 2xx, a file fully written and renamed into place), with the peer's answer in
words for people, which ``watcher check-config --send-test`` and the logs show. ``target`` is
what the outbox row names: email addresses for the email channels, nothing for chat and webhook
channels, whose configured URL decides where messages go. ``format`` names the renderer's output
the channel sends (``watcher.render.FORMATS``).

Any failure raises ``DeliveryError``: ``permanent`` when retrying cannot help (the outbox marks
the message dead), ``retry_after`` when the peer said how long to wait, ``parts_sent`` when some
bodies of a message in several parts were accepted. A channel never swallows an error and never
retries on its own: the outbox decides. (Sending once more on a fresh connection when a held
one turns out to be closed, as the SMTP channel does, is not a retry: the stale connection
failed, not the message.) A message may be sent again after a crash between
acceptance and bookkeeping; its ``idempotency_key`` (the Message-ID, the ``webhook-id``) lets
the receiving side recognise the repeat. A channel's error messages and logs never show a
secret: a webhook URL's path and query, a signing secret, a password.

``close`` ends whatever the channel holds open between sends (an SMTP connection reused for a
fan-out, an HTTP connection kept alive); the sender calls it at the end of each pass, and the
channel is used again after it.

``ChannelContext`` is what opening a channel takes besides the channel's own config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from watcher.config import Config
from watcher.model import Message


@dataclass(frozen=True)
class ChannelContext:
    """Where channels that write files default to (``data_dir``), the User-Agent HTTP
    channels announce, and whether their URLs may reach private networks
    (``allow_private_networks``: off, a webhook on a loopback or intranet address is
    refused)."""

    data_dir: str
    user_agent: str | None = None
    allow_private_networks: bool = False

    @classmethod
    def of(cls, config: Config) -> ChannelContext:
        return cls(config.data_dir, config.user_agent, config.allow_private_networks)


class Channel(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def format(self) -> str: ...

    def send(self, message: Message, target: tuple[str, ...]) -> str:
        """Deliver ``message`` to ``target`` and say how the peer answered, or raise
        ``DeliveryError``."""
        ...

    def close(self) -> None: ...
