"""Email over SMTP with the standard library's client, and the MIME message both email channels
write.

``build_email`` turns a ``Message`` into a multipart/alternative ``EmailMessage`` (plain text and
HTML). ``SmtpChannel`` holds one SMTP session for a send pass (a digest fanned out to many
subscriptions is one login, not one per message), replaces it if the server closed it, and
translates every smtplib / ssl / socket failure into ``DeliveryError`` once, here. What to send
and when to retry is left to the pipeline.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import Any

from watcher.config import SmtpChannelConfig
from watcher.errors import DeliveryError
from watcher.logs import q
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

# Lists of <URI> or <msg-id>, written as they are and folded only between their items: the
# generator would turn a long URL or message-id into an RFC 2047 encoded-word, which clients
# do not decode in these headers (an unsubscribe link or a thread would be lost). Only the
# headers added raw (``set_raw``) are spared refolding by this policy.
_VERBATIM = {"list-unsubscribe", "list-unsubscribe-post", "in-reply-to", "references"}
_POLICY = default_policy.clone(refold_source="none")
_LINE = 78


def build_email(
    message: Message, sender: str, to: tuple[str, ...], now: datetime | None = None
) -> EmailMessage:
    """A multipart/alternative email: text first, HTML preferred by clients that can show it.

    From is ``sender``; To is ``to``; Message-ID comes from the message's
    headers, else from its idempotency key. Every header value is stripped of control
    characters, so no value can start a header of its own.
    """
    email = EmailMessage(policy=_POLICY)
    email["From"] = strip_control(sender)
    email["To"] = ", ".join(strip_control(r) for r in to)
    email["Subject"] = strip_control(message.subject)
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = strip_control(
        message.headers.get("Message-ID") or f"<{message.idempotency_key}@watcher>"
    )
    for name, value in message.headers.items():
        lower = name.lower()
        clean = strip_control(value)
        if lower in _RESERVED:
            continue
        if lower in _VERBATIM and clean.isascii():
            email.set_raw(name, _folded(name, clean))
        else:
            email[name] = clean
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


def _folded(name: str, value: str) -> str:
    """``value`` folded at its spaces into lines of at most 78 characters where the words
    allow; a longer word (a long URL) stays whole on a line of its own."""
    lines: list[str] = []
    line = f"{name}:"
    for word in value.split():
        if len(line) + 1 + len(word) > _LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return "\n".join(lines)[len(name) + 2 :]


class SmtpChannel:
    """Sends over one SMTP session (``starttls``, ``ssl`` or plain ``none``) held from the first
    ``send`` of a pass to ``close``, so a fan-out to many subscriptions logs in once.

    Before each message the held session is asked whether it is still there (NOOP); one the
    server has closed meanwhile (its idle timeout, a limit on messages per connection) is
    replaced. A message that fails on a reused session because the connection went (the
    server hung up, or said 421: closing) is sent once more on a fresh one: the held session
    was stale, which says nothing about the message. Everything else, a refusal of this
    message or a failure on a fresh session, is the outbox's to retry.
    """

    def __init__(self, config: SmtpChannelConfig) -> None:
        self._config = config
        self._session: _KeepsDataReply | None = None
        self._lock = threading.Lock()  # one conversation on the session at a time

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
            with self._lock:
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

    def close(self) -> None:
        """End the held session, if any (QUIT, then close)."""
        with self._lock:
            self._drop(polite=True)

    def _deliver(
        self, email: EmailMessage, recipients: list[str]
    ) -> tuple[dict[str, tuple[int, bytes]], tuple[int, bytes]]:
        """Send on the held session, or a new one; the recipients refused and the server's
        reply to the message (DATA)."""
        session = self._held()
        reused = session is not None
        if session is None:
            session = self._session = self._connect()
        try:
            return _transmit(session, email, recipients)
        except Exception as exc:
            if not _connection_gone(exc):
                if not _session_usable(exc):
                    self._drop(polite=False)
                raise
            self._drop(polite=False)
            if not reused:
                raise
            logger.info(
                "event=smtp_reconnect channel=%s why=%s", self.id, q(_connection_problem(exc))
            )
        session = self._session = self._connect()
        try:
            return _transmit(session, email, recipients)
        except Exception as exc:
            if not _session_usable(exc):
                self._drop(polite=False)
            raise

    def _held(self) -> _KeepsDataReply | None:
        """The held session if the server still answers on it; a dead one is dropped."""
        session = self._session
        if session is None:
            return None
        try:
            code, _ = session.noop()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code == 250:
            return session
        logger.info("event=smtp_session_gone channel=%s noop=%d", self.id, code)
        self._drop(polite=False)
        return None

    def _connect(self) -> _KeepsDataReply:
        config = self._config
        timeout = config.timeout.total_seconds()
        smtp: _Smtp | _SmtpSsl
        if config.security == "ssl":
            smtp = _SmtpSsl(
                config.host, config.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = _Smtp(config.host, config.port, timeout=timeout)
        try:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username and config.password:
                smtp.login(config.username, config.password)
        except BaseException:
            smtp.close()
            raise
        logger.debug(
            "event=smtp_connected channel=%s host=%s port=%d", self.id, config.host, config.port
        )
        return smtp

    def _drop(self, polite: bool) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if polite:
                session.quit()
        except (smtplib.SMTPException, OSError):
            pass  # it is going anyway
        finally:
            session.close()


def _transmit(
    session: _KeepsDataReply, email: EmailMessage, recipients: list[str]
) -> tuple[dict[str, tuple[int, bytes]], tuple[int, bytes]]:
    session.data_reply = (0, b"")
    refused = session.send_message(email, to_addrs=recipients)
    return refused, session.data_reply


def _connection_gone(exc: Exception) -> bool:
    """The failure is the connection's, not the message's: the server hung up, the socket
    failed, or the server said 421 (closing the channel; smtplib closes its side too)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(c == 421 for c, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


def _session_usable(exc: Exception) -> bool:
    """After this failure the session can carry the next message: the server refused this
    one and smtplib reset the transaction (RSET)."""
    refusal = smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
    return isinstance(exc, refusal) and not _connection_gone(exc)


def _connection_problem(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


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
