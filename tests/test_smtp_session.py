"""The SMTP channel holds one session for a send pass: a fan-out logs in once, a session the
server closed is replaced, and only the connection's failures are tried again on a fresh one.
Against the in-process aiosmtpd server, which counts the connections it is opened."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from watcher.channels import SmtpChannel
from watcher.config import SmtpChannelConfig
from watcher.errors import DeliveryError
from watcher.model import Message
from watcher.testing.smtp import SmtpTestServer

TO = ("policy@example.org",)


def message(n: int) -> Message:
    return Message(
        idempotency_key=f"digest-{n:03d}",
        subject=f"[watcher] digest {n}",
        text=f"Digest number {n}.\n",
        html=f"<p>Digest number {n}.</p>\n",
        headers={"Message-ID": f"<digest-{n:03d}@watcher>"},
    )


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def channel(smtp: SmtpTestServer) -> Iterator[SmtpChannel]:
    opened = SmtpChannel(config(smtp.port))
    try:
        yield opened
    finally:
        opened.close()


def config(port: int, **extra: Any) -> SmtpChannelConfig:
    return SmtpChannelConfig.model_validate(
        {
            "id": "mail",
            "kind": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from": "Parliament Watcher <alerts@example.org>",
            "timeout": "5s",
            **extra,
        }
    )


def ids(smtp: SmtpTestServer) -> list[str]:
    return [str(m["Message-ID"]) for m in smtp.messages]


def test_fifty_messages_in_one_pass_use_one_connection(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    for n in range(50):
        channel.send(message(n), TO)
    assert ids(smtp) == [f"<digest-{n:03d}@watcher>" for n in range(50)]
    assert smtp.connections == 1


def test_one_login_serves_the_whole_pass() -> None:
    with SmtpTestServer(users={"watcher": "s3cret-password"}) as server:
        channel = SmtpChannel(config(server.port, username="watcher", password="s3cret-password"))
        try:
            for n in range(5):
                channel.send(message(n), TO)
        finally:
            channel.close()
        assert [r.login for r in server.received] == ["watcher"] * 5
        assert server.connections == 1


def test_close_ends_the_session_and_the_next_pass_opens_another(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    channel.send(message(1), TO)
    channel.close()
    channel.close()  # closing twice, or a channel that sent nothing, is harmless
    channel.send(message(2), TO)
    assert ids(smtp) == ["<digest-001@watcher>", "<digest-002@watcher>"]
    assert smtp.connections == 2


def test_a_server_that_closes_the_connection_between_messages_still_gets_every_one(
    smtp: SmtpTestServer, channel: SmtpChannel, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.hang_up(times=3, stage="data")  # after each of the first three messages
    caplog.set_level(logging.INFO, logger="watcher.channels.smtp")
    for n in range(6):
        channel.send(message(n), TO)
    assert ids(smtp) == [f"<digest-{n:03d}@watcher>" for n in range(6)]
    assert smtp.connections == 4
    assert caplog.text.count("event=smtp_session_gone") == 3


def test_a_connection_lost_after_the_check_is_retried_once_on_a_fresh_one(
    smtp: SmtpTestServer, channel: SmtpChannel, caplog: pytest.LogCaptureFixture
) -> None:
    channel.send(message(1), TO)
    smtp.hang_up(times=1, stage="mail")  # NOOP answered, then the server is gone at MAIL
    caplog.set_level(logging.INFO, logger="watcher.channels.smtp")
    answer = channel.send(message(2), TO)
    assert "250" in answer
    assert ids(smtp) == ["<digest-001@watcher>", "<digest-002@watcher>"]
    assert smtp.connections == 2
    assert "event=smtp_reconnect channel=mail" in caplog.text


def test_a_421_on_a_held_session_is_the_connection_closing_and_is_retried(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    channel.send(message(1), TO)
    smtp.refuse(times=1, code=421, message="4.7.0 too many messages in this session")
    channel.send(message(2), TO)
    assert ids(smtp) == ["<digest-001@watcher>", "<digest-002@watcher>"]
    assert smtp.connections == 2


def test_a_fresh_connection_that_fails_is_not_retried_by_the_channel(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    smtp.hang_up(times=1, stage="mail")
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1") as caught:
        channel.send(message(1), TO)
    assert caught.value.permanent is False  # the outbox tries it again later
    assert smtp.messages == []
    assert smtp.connections == 1
    channel.send(message(2), TO)  # the next message starts afresh
    assert ids(smtp) == ["<digest-002@watcher>"]


def test_a_connection_that_fails_again_on_the_fresh_session_raises(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    channel.send(message(1), TO)
    smtp.hang_up(times=2, stage="mail")
    with pytest.raises(DeliveryError) as caught:
        channel.send(message(2), TO)
    assert caught.value.permanent is False
    assert smtp.connections == 2  # the held one and one fresh: tried once more, not again
    assert ids(smtp) == ["<digest-001@watcher>"]


def test_a_refusal_of_the_message_is_not_retried_and_keeps_the_session(
    smtp: SmtpTestServer, channel: SmtpChannel
) -> None:
    channel.send(message(1), TO)
    smtp.refuse(times=1, code=451, message="4.3.0 try again later")
    with pytest.raises(DeliveryError, match="451"):
        channel.send(message(2), TO)
    smtp.refuse(times=1, code=550, message="5.7.1 rejected as spam")
    with pytest.raises(DeliveryError, match="spam") as permanent:
        channel.send(message(3), TO)
    assert permanent.value.permanent is True
    smtp.refuse(times=1, code=550, message="5.1.1 no such user", stage="rcpt")
    with pytest.raises(DeliveryError, match="no such user"):
        channel.send(message(4), TO)
    channel.send(message(5), TO)
    assert ids(smtp) == ["<digest-001@watcher>", "<digest-005@watcher>"]
    assert smtp.connections == 1


def test_a_server_gone_for_good_mid_pass_fails_the_message_for_the_outbox_to_retry(
    smtp: SmtpTestServer,
) -> None:
    channel = SmtpChannel(config(smtp.port))
    try:
        channel.send(message(1), TO)
        smtp.stop()
        with pytest.raises(DeliveryError, match="failed") as caught:
            channel.send(message(2), TO)
        assert caught.value.permanent is False
    finally:
        channel.close()
