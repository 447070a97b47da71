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
fan-out); the sender calls it at the end of each pass.
"""

from __future__ import annotations

from typing import Protocol

from watcher.model import Message


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
