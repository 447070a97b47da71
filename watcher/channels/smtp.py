"""Email over SMTP with the standard library's client, and the MIME message both email channels
write.

``build_email`` turns a ``Message`` into a multipart/alternative ``EmailMessage`` (plain text and
HTML). ``SmtpChannel`` opens one connection per message (digests are few; a held connection would
only go stale), sends it and translates every smtplib / ssl / socket failure into
``DeliveryError`` once, here. What to send and when to retry is left to the pipeline.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from watcher.config import SmtpChannelConfig
from watcher.errors import DeliveryError
from watcher.model import Message
from watcher.text import strip_control

logger = logging.getLogger(__name__)

# Headers build_email sets itself; a Message cannot override or duplicate them.
_RESERVED = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "sender",
    "reply-to",
}


def build_email(
    message: Message, sender: str, to: tuple[str, ...], now: datetime | None = None
) -> EmailMessage:
    """A multipart/alternative email: text first, HTML preferred by clients that can show it.

    From is ``sender``; To is ``to``; Message-ID comes from the message's
    headers, else from its idempotency key. Every header value is stripped of control
    characters, so no value can start a header of its own.
    """
    email = EmailMessage()
    email["From"] = strip_control(sender)
    email["To"] = ", ".join(strip_control(r) for r in to)
    email["Subject"] = strip_control(message.subject)
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = strip_control(
        message.headers.get("Message-ID") or f"<{message.idempotency_key}@watcher>"
    )
    for name, value in message.headers.items():
        if name.lower() not in _RESERVED:
            email[name] = strip_control(value)
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


class SmtpChannel:
    """Sends each message in its own SMTP session: ``starttls``, ``ssl`` or plain (``none``)."""

    def __init__(self, config: SmtpChannelConfig) -> None:
        self._config = config

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def format(self) -> str:
        return self._config.format

    def send(self, message: Message, target: tuple[str, ...]) -> str:
        if not target:
            raise DeliveryError(f"channel {self.id}: message has no recipients", permanent=True)
        email = build_email(message, self._config.from_, target)
        try:
            refused, (code, reply) = self._deliver(email, list(target))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"channel {self.id}: every recipient refused: {_describe(exc.recipients)}",
                permanent=all(_permanent(c) for c in codes),
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"channel {self.id}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=True,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. starttls configured but not offered: a configuration problem, and we will
            # not fall back to sending in clear.
            raise DeliveryError(
                f"channel {self.id}: server does not support it: {exc}", permanent=True
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"channel {self.id}: server said {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=_permanent(exc.smtp_code),
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"channel {self.id}: TLS failed: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"channel {self.id}: SMTP session with "
                f"{self._config.host}:{self._config.port} failed: {exc}"
            ) from exc
        if refused:
            temporary = {r: v for r, v in refused.items() if not _permanent(v[0])}
            logger.warning(
                "event=smtp_recipients_refused channel=%s key=%s refused=%s",
                self.id,
                message.idempotency_key,
                _describe(refused),
            )
            if temporary:
                # The others have it; a retry re-sends to them too, but with the same
                # Message-ID, while a permanent refusal would never be cured by retrying.
                raise DeliveryError(
                    f"channel {self.id}: recipients refused for now: {_describe(temporary)}"
                )
        logger.info(
            "event=smtp_sent channel=%s key=%s recipients=%d",
            self.id,
            message.idempotency_key,
            len(target) - len(refused),
        )
        accepted = len(target) - len(refused)
        return (
            f"{self._config.host}:{self._config.port} accepted it for {accepted} "
            f"recipient(s): {code} {_text(reply)}"
        )

    def _deliver(
        self, email: EmailMessage, recipients: list[str]
    ) -> tuple[dict[str, tuple[int, bytes]], tuple[int, bytes]]:
        """Send; the recipients refused and the server's reply to the message (DATA)."""
        config = self._config
        timeout = config.timeout.total_seconds()
        smtp: _Smtp | _SmtpSsl
        if config.security == "ssl":
            smtp = _SmtpSsl(
                config.host, config.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = _Smtp(config.host, config.port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username and config.password:
                smtp.login(config.username, config.password)
            refused = smtp.send_message(email, to_addrs=recipients)
            return refused, smtp.data_reply

    def close(self) -> None:
        """Nothing to close: every send has its own session."""


class _KeepsDataReply(smtplib.SMTP):
    """smtplib keeps the server's answer to DATA to itself; this keeps it for the caller."""

    data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


_Smtp = _KeepsDataReply


class _SmtpSsl(_KeepsDataReply, smtplib.SMTP_SSL):
    pass


def _permanent(code: int) -> bool:
    return 500 <= code < 600


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{r}: {code} {_text(msg)}" for r, (code, msg) in sorted(refused.items()))
