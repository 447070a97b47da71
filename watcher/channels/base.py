"""The Channel role: how a rendered digest leaves the service.

``send`` returns only once the peer has accepted the message (an SMTP server's 250, a file
fully written and renamed into place), with the peer's answer in words for people (the
server's reply, the file written), which ``watcher check-config --send-test`` shows. Any
failure raises ``DeliveryError``; the caller keeps
the digest unsent and retries it later, so a channel never swallows an error. A message may be
sent again after a crash between acceptance and bookkeeping: its ``idempotency_key`` (the
Message-ID for email) lets the recipient's side recognise the repeat.
"""

from __future__ import annotations

from typing import Protocol

from watcher.model import Message


class Channel(Protocol):
    @property
    def id(self) -> str: ...

    def send(self, message: Message) -> str:
        """Deliver ``message`` and say how the peer answered, or raise ``DeliveryError``."""
        ...

    def close(self) -> None: ...
