from __future__ import annotations

import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from watcher.channels import ChannelContext, FilesChannel, SmtpChannel, open_channel
from watcher.channels.smtp import build_email
from watcher.config import FilesChannelConfig, SmtpChannelConfig
from watcher.errors import DeliveryError
from watcher.model import Message
from watcher.testing.smtp import SmtpTestServer

SENDER = "Parliament Watcher <watcher@example.org>"
TO = ("alice@example.org", "bob@example.org")
MESSAGE = Message(
    idempotency_key="0123abcd",
    subject="[watcher] 1 new answer: Special Educational Needs – Pupils’ Support",
    text="The department’s work on [[SEND workforce]] planning.\n",
    html="<p>The department’s work on <mark>SEND workforce</mark> planning.</p>\n",
    headers={
        "Message-ID": "<0123abcd@watcher>",
        "X-Watcher-Subscription": "send-team",
        "Auto-Submitted": "auto-generated",
    },
)


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


_opened: list[SmtpChannel] = []


def opened(config: SmtpChannelConfig) -> SmtpChannel:
    """An SmtpChannel that is closed when the test ends, as the sender closes its channels
    after each pass (it holds its SMTP session until then)."""
    channel = SmtpChannel(config)
    _opened.append(channel)
    return channel


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def smtp_config(port: int, **extra: Any) -> SmtpChannelConfig:
    return SmtpChannelConfig.model_validate(
        {
            "id": "mail",
            "kind": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from": SENDER,
            "timeout": "5s",
            **extra,
        }
    )


def parts(email: EmailMessage) -> tuple[str, str]:
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    # On the wire lines end in CRLF; the parser hands them back as they came.
    return (text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n"))


def assert_is_the_digest(email: EmailMessage) -> None:
    assert email.get_content_type() == "multipart/alternative"
    assert email["Message-ID"] == "<0123abcd@watcher>"
    assert email["From"] == SENDER
    assert email["To"] == "alice@example.org, bob@example.org"
    assert email["Subject"] == "[watcher] 1 new answer: Special Educational Needs – Pupils’ Support"
    assert email["X-Watcher-Subscription"] == "send-team"
    assert email["Date"] is not None
    text, html = parts(email)
    assert text == MESSAGE.text
    assert html == MESSAGE.html


# --- SMTP --------------------------------------------------------------------------------


def test_smtp_delivers_one_multipart_alternative_message(smtp: SmtpTestServer) -> None:
    opened(smtp_config(smtp.port)).send(MESSAGE, TO)
    assert len(smtp.messages) == 1
    assert_is_the_digest(smtp.messages[0])
    received = smtp.received[0]
    assert received.mail_from == "watcher@example.org"
    assert received.rcpt_tos == ("alice@example.org", "bob@example.org")


def test_a_refused_message_raises_and_is_not_received(smtp: SmtpTestServer) -> None:
    channel = opened(smtp_config(smtp.port))
    smtp.refuse(times=1, code=451, message="4.3.0 try later")
    with pytest.raises(DeliveryError, match="451") as caught:
        channel.send(MESSAGE, TO)
    assert caught.value.permanent is False
    assert smtp.messages == []
    channel.send(MESSAGE, TO)  # the refusal was for one attempt; the retry goes through
    assert len(smtp.messages) == 1


def test_a_permanent_refusal_is_marked_permanent(smtp: SmtpTestServer) -> None:
    smtp.refuse(code=550, message="5.7.1 rejected as spam")
    with pytest.raises(DeliveryError, match="rejected as spam") as caught:
        opened(smtp_config(smtp.port)).send(MESSAGE, TO)
    assert caught.value.permanent is True
    assert smtp.messages == []


def test_every_recipient_refused_raises(smtp: SmtpTestServer) -> None:
    smtp.refuse(times=2, code=550, message="5.1.1 no such user", stage="rcpt")
    with pytest.raises(DeliveryError, match="no such user") as caught:
        opened(smtp_config(smtp.port)).send(MESSAGE, TO)
    assert caught.value.permanent is True
    assert smtp.messages == []


def test_one_recipient_permanently_refused_still_delivers_to_the_other(
    smtp: SmtpTestServer,
) -> None:
    smtp.refuse(times=1, code=550, message="5.1.1 no such user", stage="rcpt")
    opened(smtp_config(smtp.port)).send(MESSAGE, TO)
    assert [r.rcpt_tos for r in smtp.received] == [("bob@example.org",)]


def test_one_recipient_refused_for_now_is_retried(smtp: SmtpTestServer) -> None:
    smtp.refuse(times=1, code=450, message="4.2.1 mailbox busy", stage="rcpt")
    with pytest.raises(DeliveryError, match="mailbox busy") as caught:
        opened(smtp_config(smtp.port)).send(MESSAGE, TO)
    assert caught.value.permanent is False


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1") as caught:
        opened(smtp_config(closed_port())).send(MESSAGE, TO)
    assert caught.value.permanent is False
    assert isinstance(caught.value.__cause__, OSError)


def test_starttls_that_the_server_does_not_offer_never_falls_back_to_clear_text(
    smtp: SmtpTestServer,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        opened(smtp_config(smtp.port, security="starttls")).send(MESSAGE, TO)
    assert caught.value.permanent is True
    assert smtp.messages == []


def test_login_when_a_username_is_set() -> None:
    with SmtpTestServer(users={"watcher": "s3cret"}) as server:
        opened(smtp_config(server.port, username="watcher", password="s3cret")).send(MESSAGE, TO)
        assert [r.login for r in server.received] == ["watcher"]

        with pytest.raises(DeliveryError, match="login refused") as caught:
            opened(smtp_config(server.port, username="watcher", password="wrong")).send(MESSAGE, TO)
        assert caught.value.permanent is True

        with pytest.raises(DeliveryError, match="530"):
            opened(smtp_config(server.port)).send(MESSAGE, TO)
        assert len(server.messages) == 1


def test_header_values_cannot_inject_headers() -> None:
    hostile = Message(
        idempotency_key="k",
        subject="Needs\r\nBcc: victim@example.org",
        text="t",
        html="<p>h</p>",
        headers={"X-Watcher-Subscription": "s\r\nBcc: victim@example.org"},
    )
    raw = bytes(build_email(hostile, SENDER, ("alice@example.org",)))
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Needs Bcc: victim@example.org"
    assert parsed["Message-ID"] == "<k@watcher>"


# --- files -------------------------------------------------------------------------------


def files_config(**extra: Any) -> FilesChannelConfig:
    return FilesChannelConfig.model_validate(
        {"id": "files", "kind": "files", "from": SENDER, **extra}
    )


def test_files_channel_writes_a_parseable_eml_in_the_outbox(tmp_path: Path) -> None:
    FilesChannel(files_config(), str(tmp_path)).send(MESSAGE, TO)
    written = list((tmp_path / "outbox").iterdir())
    assert len(written) == 1
    assert written[0].name.endswith("-0123abcd.eml")
    email = BytesParser(policy=policy.default).parsebytes(written[0].read_bytes())
    assert isinstance(email, EmailMessage)
    assert_is_the_digest(email)


def test_files_channel_uses_its_configured_path_and_keeps_every_message(tmp_path: Path) -> None:
    target = tmp_path / "mail" / "out"
    channel = FilesChannel(files_config(path=str(target)), str(tmp_path / "unused"))
    channel.send(MESSAGE, TO)
    channel.send(
        Message(
            idempotency_key="../../etc/passwd",
            subject="s",
            text="t",
            html="<p>h</p>",
        ),
        ("a@example.org",),
    )
    names = sorted(p.name for p in target.iterdir())
    assert len(names) == 2  # no temporary files left behind, nothing written elsewhere
    assert all(n.endswith(".eml") and "/" not in n and not n.startswith(".") for n in names)
    assert not (tmp_path / "unused").exists()


def test_files_channel_that_cannot_write_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(DeliveryError, match="cannot write"):
        FilesChannel(files_config(path=str(blocker)), str(tmp_path)).send(MESSAGE, TO)


# --- registry ----------------------------------------------------------------------------


def test_open_channel_builds_each_kind(tmp_path: Path) -> None:
    smtp_channel = open_channel(smtp_config(2525), ChannelContext(str(tmp_path)))
    assert isinstance(smtp_channel, SmtpChannel)
    assert smtp_channel.id == "mail"
    files_channel = open_channel(files_config(), ChannelContext(str(tmp_path)))
    assert isinstance(files_channel, FilesChannel)
    assert files_channel.folder == tmp_path / "outbox"
