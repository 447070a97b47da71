"""The signed webhook channel against a real local receiver that verifies what it gets as a
receiver would, with the ``standardwebhooks`` package and the shared secret: every attempt
signed afresh, under a webhook-id that never changes for a message (or a part of one), and
what each status means; then through the whole service: retries, a dead message revived, and
a sender killed mid-send."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from channel_peers import (
    SECRET,
    SINCE,
    channel,
    close_opened,
    message,
    outbox,
    run_once,
    sequence,
    service_config,
)
from http_peers import PostServer
from standardwebhooks import Webhook, WebhookVerificationError

from watcher.channels.webhook import webhook_id
from watcher.errors import DeliveryError
from watcher.store import OutboxState
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.scripted import Exchange, reply

KEY = "5d41402abc4b2a76b9719d911017c592"
DIGEST = message({"type": "watcher.digest", "items": [{"title": "Pupils’ support"}]}, key=KEY)
PARTS = message({"part": 1}, {"part": 2}, {"part": 3}, key=KEY)


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    yield
    close_opened()


@pytest.fixture
def server() -> Iterator[PostServer]:
    with PostServer() as s:
        s.answer = lambda e: reply(e, 204)
        yield s


def verified(server: PostServer, secret: str = SECRET) -> list[dict[str, str]]:
    """The headers of every request received, each checked as a receiver checks it."""
    for _, headers, body in server.received:
        Webhook(secret).verify(body, headers)
    return [headers for _, headers, _ in server.received]


def test_every_attempt_is_signed_afresh_under_the_same_webhook_id(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 503)
    hook = channel("webhook", server.url("/receiver"))
    with pytest.raises(DeliveryError):
        hook.send(DIGEST, ())
    time.sleep(1.05)  # timestamps are whole seconds
    server.answer = lambda e: reply(e, 200)
    answer = hook.send(DIGEST, ())
    first, second = verified(server)
    assert first["webhook-id"] == second["webhook-id"] == KEY
    assert int(second["webhook-timestamp"]) > int(first["webhook-timestamp"])
    assert abs(int(second["webhook-timestamp"]) - time.time()) < 5
    assert first["webhook-signature"] != second["webhook-signature"]
    assert second["webhook-signature"].startswith("v1,")
    assert [body for _, _, body in server.received] == [DIGEST.bodies[0].encode()] * 2
    assert answer.endswith(f"200 (webhook-id {KEY})")


def test_a_receiver_with_another_secret_or_other_bytes_rejects_it(server: PostServer) -> None:
    channel("webhook", server.url("/receiver")).send(DIGEST, ())
    [(_, headers, body)] = server.received
    other = "whsec_" + "QUJD" * 11
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"Pupils", b"Pupil"), headers)


def test_each_part_has_its_own_id_which_a_retry_of_the_rest_keeps(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 200 if len(server.received) != 2 else 500)
    hook = channel("webhook", server.url("/receiver"))
    with pytest.raises(DeliveryError) as failed:
        hook.send(PARTS, ())
    hook.send(PARTS.rest(failed.value.parts_sent), ())
    ids = [h["webhook-id"] for h in verified(server)]
    assert ids == [f"{KEY}-1", f"{KEY}-2", f"{KEY}-2", f"{KEY}-3"]
    assert webhook_id(DIGEST, 0) == KEY  # one part: the key alone


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_delivered(status: int, server: PostServer) -> None:
    server.answer = lambda e: reply(e, status)
    channel("webhook", server.url("/receiver")).send(DIGEST, ())


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (410, True),
        (301, True),  # no redirect is followed: the URL needs mending
        (302, True),
        (307, True),
        (408, False),
        (409, False),  # not in the list: a receiver's passing state, retried
        (422, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_what_each_failing_status_means(status: int, permanent: bool, server: PostServer) -> None:
    server.answer = lambda e: reply(e, status, b"nope", {"Location": "http://127.0.0.1:9/"})
    with pytest.raises(DeliveryError) as failed:
        channel("webhook", server.url("/receiver")).send(DIGEST, ())
    assert failed.value.permanent is permanent
    assert f"answered {status}" in str(failed.value)
    assert len(server.received) == 1


def test_the_secret_is_in_no_error(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 401, e.headers["webhook-signature"].encode())
    with pytest.raises(DeliveryError) as failed:
        channel("webhook", server.url("/receiver")).send(DIGEST, ())
    assert SECRET not in str(failed.value)
    assert SECRET.removeprefix("whsec_") not in str(failed.value)


# --- through the whole service ---------------------------------------------------------------


def webhook_channel(server: PostServer) -> dict[str, Any]:
    return {"id": "hook", "kind": "webhook", "url": server.url("/receiver"), "secret": SECRET}


def test_503_then_429_then_200_delivers_once_each_attempt_signed_under_one_id(
    tmp_path: Path, api: FakeParliamentAPI, server: PostServer
) -> None:
    """The issue's acceptance, through the long-running service, which retries each message
    at its own next attempt time."""
    api.add_copy("8602", new_uin="99001", answered=date.today())  # what a scheduled poll sees
    arrived: list[float] = []
    answers = sequence(
        lambda e: reply(e, 503),
        lambda e: reply(e, 429, b"slow down", {"Retry-After": "2"}),
        lambda e: reply(e, 200),
    )

    def answer(e: Exchange) -> None:
        arrived.append(time.monotonic())
        answers(e)

    server.answer = answer
    config = service_config(tmp_path, api, [webhook_channel(server)], query="SEND", every="1h")
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(server.received) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(3)  # long enough for a fourth attempt, were there to be one
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    headers = verified(server)  # every attempt verifies with the shared secret
    assert len(headers) == 3, stderr
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    assert {h["webhook-id"] for h in headers} == {row.idempotency_key}
    stamps = [int(h["webhook-timestamp"]) for h in headers]
    assert stamps == sorted(stamps)
    assert stamps[2] - stamps[1] >= 2  # signed when sent, not when first rendered
    assert len({h["webhook-signature"] for h in headers}) == 3
    assert arrived[2] - arrived[1] >= 2  # Retry-After: 2 was waited out
    assert len({body for _, _, body in server.received}) == 1


def test_410_is_dead_at_once_and_outbox_retry_sends_it_once_the_receiver_heals(
    tmp_path: Path, api: FakeParliamentAPI, server: PostServer
) -> None:
    server.answer = lambda e: reply(e, 410, b"gone")
    config = service_config(tmp_path, api, [webhook_channel(server)])
    failed = run_once(config)
    assert failed.returncode == 1
    assert "NOT SENT" in failed.stdout
    [(row, _)] = outbox(config)
    assert (row.state, row.attempts) == (OutboxState.DEAD, 1)
    assert "410 Gone: gone" in (row.last_error or "")
    assert "dead" in watcher(config, "status").stdout

    server.answer = lambda e: reply(e, 204)
    revived = watcher(config, "outbox", "retry", str(row.id))
    assert revived.returncode == 0, revived.stderr
    delivered = run_once(config)
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    first, second = verified(server)
    assert first["webhook-id"] == second["webhook-id"] == row.idempotency_key


def test_a_sender_killed_before_it_heard_back_resends_under_the_same_webhook_id(
    tmp_path: Path, api: FakeParliamentAPI, server: PostServer
) -> None:
    """kill -9 between the receiver taking the request and our marking it sent: the next run,
    once the claim lapses (delivery.claim_for, 2 s here), sends it again, recognisably."""
    stall = threading.Event()

    def answer(e: Exchange) -> None:
        if len(server.received) == 1:
            stall.wait(60)  # took it, and never answers
        else:
            reply(e, 204)

    server.answer = answer
    config = service_config(tmp_path, api, [webhook_channel(server)])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watcher",
            "--config",
            str(config),
            "run",
            "--once",
            "--since",
            SINCE,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not server.received and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        stall.set()
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.PENDING
    assert row.claimed_by is not None  # it was being sent
    time.sleep(2.2)  # claimed before the request went, for claim_for: 2s

    again = run_once(config)
    assert again.returncode == 0, again.stdout + again.stderr
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    first, second = verified(server)
    assert first["webhook-id"] == second["webhook-id"] == row.idempotency_key
    [(_, _, body1), (_, _, body2)] = server.received
    assert body1 == body2
