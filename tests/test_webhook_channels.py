"""The signed webhook channel against a real local receiver that verifies what it gets as a
receiver would, with the ``standardwebhooks`` package and the shared secret: every attempt
signed afresh, under a webhook-id that never changes for a message (or a part of one), and
what each status means."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from channel_peers import SECRET, channel, close_opened, message
from http_peers import PostServer
from standardwebhooks import Webhook, WebhookVerificationError

from watcher.channels.webhook import webhook_id
from watcher.errors import DeliveryError
from watcher.testing.scripted import reply

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
