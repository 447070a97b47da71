"""The HTTP channels (Slack, Teams, Discord, signed webhooks) and Apprise against a real local
receiver: what reaches it (the URL as configured, the stored bytes, parts in order, at the
peer's pace), how each answer is judged (success, permanent, retried after how long), and that
no secret part of a URL reaches an error message or a log line.

The whole pipeline through these channels is in test_channel_delivery.py; the webhook's
signatures are in test_webhook_channels.py."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest
from channel_peers import (
    TEAMS_PATH,
    TOKEN,
    WEB_KINDS,
    channel,
    channel_config,
    close_opened,
    closed_port,
    lines,
    message,
    recorded,
    sequence,
)
from http_peers import PostServer

from watcher.channels.pacing import Pacer
from watcher.errors import DeliveryError
from watcher.model import Message
from watcher.testing.scripted import Exchange, reply

ONE = message({"text": "Pupils’ support — 1 new answer"})
THREE = message({"text": "part one"}, {"text": "part two"}, {"text": "part three"})


def success(kind: str) -> Callable[[Exchange], None]:
    return {
        "slack": lambda e: reply(e, 200, b"ok"),
        "teams": lambda e: reply(e, 202),
        "discord": lambda e: reply(e, 200, b'{"id": "1234"}', {"Content-Type": "application/json"}),
        "webhook": lambda e: reply(e, 204),
    }[kind]


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    yield
    close_opened()


@pytest.fixture
def server() -> Iterator[PostServer]:
    with PostServer() as s:
        yield s


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    with recorded() as seen:
        yield seen


# --- what reaches the receiver ---------------------------------------------------------------


@pytest.mark.parametrize("kind", WEB_KINDS)
def test_the_url_is_used_exactly_as_configured_and_the_body_as_stored(
    kind: str, server: PostServer
) -> None:
    server.answer = success(kind)
    sent = channel(kind, server.url(TEAMS_PATH)).send(ONE, ())
    [(path, headers, body)] = server.received
    # Discord's wait=true is added after every parameter given, which stay as written.
    assert path == TEAMS_PATH + ("&wait=true" if kind == "discord" else "")
    assert body == ONE.bodies[0].encode()
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "watcher-tests/1"
    assert "sig=" not in sent
    assert sent.startswith(f"http://127.0.0.1:{server.port}/… accepted it")


@pytest.mark.parametrize("kind", WEB_KINDS)
def test_parts_go_in_order_and_a_retry_sends_only_the_rest_byte_for_byte(
    kind: str, server: PostServer
) -> None:
    server.answer = sequence(success(kind), lambda e: reply(e, 503), success(kind))
    hook = channel(kind, server.url("/hook"))
    with pytest.raises(DeliveryError) as failed:
        hook.send(THREE, ())
    assert failed.value.parts_sent == 1
    assert not failed.value.permanent
    assert str(failed.value).endswith(" (part 2 of 3)")
    assert "503 Service Unavailable" in str(failed.value)

    hook.send(THREE.rest(failed.value.parts_sent), ())
    assert [body for _, _, body in server.received] == [
        THREE.bodies[0].encode(),
        THREE.bodies[1].encode(),  # refused, then sent again: the same bytes
        THREE.bodies[1].encode(),
        THREE.bodies[2].encode(),
    ]


@pytest.mark.parametrize("kind", WEB_KINDS)
def test_a_redirect_is_not_followed_and_is_permanent(kind: str, server: PostServer) -> None:
    server.answer = lambda e: reply(e, 308, headers={"Location": server.url("/elsewhere")})
    with pytest.raises(DeliveryError) as failed:
        channel(kind, server.url("/hook")).send(ONE, ())
    assert failed.value.permanent
    assert "308 Permanent Redirect" in str(failed.value)
    assert "follows none" in str(failed.value)
    assert [path for path, _, _ in server.received] == [
        "/hook" + ("?wait=true" if kind == "discord" else "")
    ]


@pytest.mark.parametrize("kind", WEB_KINDS)
def test_a_429_is_retried_after_what_retry_after_says(kind: str, server: PostServer) -> None:
    server.answer = lambda e: reply(e, 429, b"slow down", {"Retry-After": "7"})
    with pytest.raises(DeliveryError) as failed:
        channel(kind, server.url("/hook")).send(ONE, ())
    assert (failed.value.permanent, failed.value.retry_after) == (False, 7.0)


@pytest.mark.parametrize("kind", WEB_KINDS)
def test_no_error_and_no_log_line_shows_the_url_s_secret_parts(
    kind: str, server: PostServer, records: list[logging.LogRecord]
) -> None:
    url = server.url(f"/services/{TOKEN}?sig=Zx9-Qw_8RtYuIo0PaSdFgHjKl")
    answers = [
        lambda e: reply(e, 404, f"no_service for {e.path}".encode()),  # a peer that echoes
        lambda e: reply(e, 500, json.dumps({"error": {"message": e.path}}).encode()),
        lambda e: reply(e, 429, b"", {"Retry-After": "1"}),
    ]
    errors = []
    for answer in answers:
        server.answer = answer
        with pytest.raises(DeliveryError) as failed:
            channel(kind, url).send(ONE, ())
        errors.append(str(failed.value))
    with pytest.raises(DeliveryError) as refused:  # nobody listens there
        channel(kind, url.replace(str(server.port), str(closed_port()))).send(ONE, ())
    errors.append(str(refused.value))
    shown = "\n".join(errors) + "\n" + lines(records)
    for secret in ("SECRET", "Zx9-Qw_8RtYuIo0PaSdFgHjKl", "/services"):
        assert secret not in shown
    assert f"127.0.0.1:{server.port}/…" in errors[0]


# --- Slack -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "said", "permanent"),
    [
        (400, "invalid_payload", True),
        (400, "no_text", True),
        (403, "invalid_token", True),
        (403, "action_prohibited", True),
        (404, "no_service", True),
        (404, "channel_not_found", True),
        (410, "channel_is_archived", True),
        (500, "rollup_error", False),
        (503, "", False),
        (200, "not quite", False),  # a 200 is success only with ok
        (200, "", False),
    ],
)
def test_slack_answers(status: int, said: str, permanent: bool, server: PostServer) -> None:
    server.answer = lambda e: reply(e, status, said.encode())
    with pytest.raises(DeliveryError) as failed:
        channel("slack", server.url("/services/x")).send(ONE, ())
    assert failed.value.permanent is permanent
    assert said in str(failed.value)
    assert failed.value.retry_after is None


def test_slack_says_ok_and_is_believed(server: PostServer) -> None:
    assert channel("slack", server.url("/services/x")).send(ONE, ()).endswith(": 200 ok")


def test_a_message_slack_finds_too_long_is_dead_and_logged_as_our_bug(
    server: PostServer, records: list[logging.LogRecord]
) -> None:
    server.answer = lambda e: reply(e, 400, b"msg_blocks_too_long")
    with pytest.raises(DeliveryError) as failed:
        channel("slack", server.url("/services/x")).send(ONE, ())
    assert failed.value.permanent
    [error] = [r for r in records if r.levelno == logging.ERROR]
    assert "event=slack_refused_payload" in error.getMessage()
    assert f"key={ONE.idempotency_key}" in error.getMessage()
    assert "please report it" in error.getMessage()


# --- Teams -----------------------------------------------------------------------------------


def test_teams_202_is_success_that_says_it_was_only_queued(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 202)
    answer = channel("teams", server.url(TEAMS_PATH)).send(ONE, ())
    assert "202 queued by Power Automate" in answer
    server.answer = lambda e: reply(e, 200)
    assert channel("teams", server.url(TEAMS_PATH)).send(ONE, ()).endswith("200 posted")


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (403, True), (404, True), (500, False)]
)
def test_teams_answers(status: int, permanent: bool, server: PostServer) -> None:
    body = json.dumps({"error": {"code": "DirectApiAuthorizationRequired", "message": "No."}})
    server.answer = lambda e: reply(e, status, body.encode(), {"Content-Type": "application/json"})
    with pytest.raises(DeliveryError) as failed:
        channel("teams", server.url(TEAMS_PATH)).send(ONE, ())
    assert failed.value.permanent is permanent
    assert "DirectApiAuthorizationRequired: No." in str(failed.value)


# --- Discord ---------------------------------------------------------------------------------


def test_discord_waits_for_the_post_and_keeps_the_thread(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 204)
    channel("discord", server.url("/api/webhooks/1/tok?thread_id=99&wait=false")).send(ONE, ())
    [(path, _, _)] = server.received
    assert path == "/api/webhooks/1/tok?thread_id=99&wait=true"


def test_discord_429_is_retried_after_the_retry_after_in_its_body(server: PostServer) -> None:
    limited = json.dumps({"message": "You are being rate limited.", "retry_after": 2.5})
    server.answer = lambda e: reply(e, 429, limited.encode(), {"Retry-After": "1"})
    with pytest.raises(DeliveryError) as failed:
        channel("discord", server.url("/api/webhooks/1/tok")).send(ONE, ())
    assert (failed.value.permanent, failed.value.retry_after) == (False, 2.5)
    assert "You are being rate limited." in str(failed.value)


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (403, True), (404, True), (502, False)]
)
def test_discord_answers(status: int, permanent: bool, server: PostServer) -> None:
    body = json.dumps({"code": 10015, "message": "Unknown Webhook"}).encode()
    server.answer = lambda e: reply(e, status, body)
    with pytest.raises(DeliveryError) as failed:
        channel("discord", server.url("/api/webhooks/1/tok")).send(ONE, ())
    assert failed.value.permanent is permanent
    assert "10015: Unknown Webhook" in str(failed.value)


def test_discord_s_empty_bucket_holds_the_next_post_until_it_resets(server: PostServer) -> None:
    arrived: list[float] = []

    def answer(e: Exchange) -> None:
        arrived.append(time.monotonic())
        reply(e, 204, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.6"})

    server.answer = answer
    channel("discord", server.url("/api/webhooks/1/tok")).send(THREE, ())
    assert len(arrived) == 3
    assert min(b - a for a, b in pairwise(arrived)) >= 0.55


# --- pace ------------------------------------------------------------------------------------


def test_posts_to_one_url_keep_min_interval_apart_across_messages_and_channels(
    server: PostServer,
) -> None:
    arrived: list[float] = []

    def answer(e: Exchange) -> None:
        arrived.append(time.monotonic())
        reply(e, 200, b"ok")

    server.answer = answer
    url = server.url("/services/shared")
    first = channel("slack", url, min_interval="300ms")
    second = channel("slack", url, id="other-slack", min_interval="300ms")  # the same webhook
    first.send(THREE, ())
    second.send(ONE, ())
    first.send(ONE, ())
    assert len(arrived) == 5
    assert min(b - a for a, b in pairwise(arrived)) >= 0.29


def test_no_post_reaches_a_url_during_the_pause_it_asked_for(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 429, b"rate_limited", {"Retry-After": "60"})
    url = server.url("/services/paused")
    with pytest.raises(DeliveryError):
        channel("slack", url).send(ONE, ())
    with pytest.raises(DeliveryError) as waiting:  # another channel on the same webhook
        channel("slack", url, id="other-slack").send(ONE, ())
    assert len(server.received) == 1
    assert waiting.value.retry_after is not None
    assert 55 < waiting.value.retry_after <= 60
    assert not waiting.value.permanent


def test_slack_keeps_to_one_post_a_second_unless_told_otherwise(server: PostServer) -> None:
    config = channel_config("slack", server.url("/services/x")).model_copy(
        update={"min_interval": None}
    )
    hook = channel(config)
    started = time.monotonic()
    hook.send(message({"text": "a"}, {"text": "b"}), ())
    assert time.monotonic() - started >= 0.99


def test_the_pacer_reserves_slots_and_refuses_a_pause_longer_than_allowed() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    assert pacer.wait("a", 1.0, longest=10) == 0  # the first goes at once
    assert pacer.wait("a", 1.0, longest=10) == 0  # the next a second after it
    assert pacer.wait("b", 1.0, longest=10) == 0  # another URL is not held up
    assert slept == [1.0]
    pacer.hold("a", 60)
    assert pacer.wait("a", 1.0, longest=10) == 60  # not waited: the caller fails fast
    assert slept == [1.0]
    now[0] += 60
    assert pacer.wait("a", 1.0, longest=10) == 0
    assert slept == [1.0]


def test_threads_sharing_a_url_take_turns() -> None:
    pacer = Pacer()
    starts: list[float] = []
    lock = threading.Lock()

    def post() -> None:
        pacer.wait("url", 0.2, longest=5)
        with lock:
            starts.append(time.monotonic())

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert min(b - a for a, b in pairwise(starts)) >= 0.19


# --- Apprise ---------------------------------------------------------------------------------


def apprise_body(title: str = "[watcher] 1 new answer", body: str = "**SEND** workforce") -> str:
    return json.dumps({"title": title, "body": body, "format": "markdown"})


def test_apprise_delivers_title_and_body_to_the_service(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 200, b"{}")
    url = f"json://127.0.0.1:{server.port}/notify/{TOKEN}"
    answer = channel("apprise", url).send(Message("k", bodies=(apprise_body(),)), ())
    [(path, _, body)] = server.received
    assert path == f"/notify/{TOKEN}"
    sent = json.loads(body)
    assert sent["title"] == "[watcher] 1 new answer"
    assert "SEND" in sent["message"]
    assert answer == "json://… took it (Apprise reports no more than that)"


def test_apprise_failure_is_retried_and_shows_no_token(
    server: PostServer, records: list[logging.LogRecord]
) -> None:
    server.answer = lambda e: reply(e, 500, f"broken at {e.path}".encode())
    url = f"json://127.0.0.1:{server.port}/notify/{TOKEN}"
    hook = channel("apprise", url)
    with pytest.raises(DeliveryError) as failed:
        hook.send(Message("k", bodies=(apprise_body(), apprise_body("second"))), ())
    assert (failed.value.permanent, failed.value.parts_sent) == (False, 0)
    assert "did not take it" in str(failed.value)
    assert "500" in str(failed.value)  # Apprise's reason, read back from its log
    assert "SECRET" not in str(failed.value) + lines(records)


def test_a_url_apprise_does_not_know_is_permanent() -> None:
    with pytest.raises(DeliveryError) as failed:
        channel("apprise", "nosuchservice://SECRETtoken/x").send(
            Message("k", bodies=(apprise_body(),)), ()
        )
    assert failed.value.permanent
    assert (
        "not a URL Apprise can use (nosuchservice://…: a service it does not know, or a part "
        "missing)" in str(failed.value)
    )
    assert "SECRET" not in str(failed.value)


def test_apprise_refuses_a_body_of_another_format() -> None:
    with pytest.raises(DeliveryError) as failed:
        channel("apprise", "json://127.0.0.1:9/x").send(ONE, ())
    assert failed.value.permanent
