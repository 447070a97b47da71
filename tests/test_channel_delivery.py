"""Digests through each chat, webhook and Apprise channel, the whole service as a user runs it:
``watcher run --once`` in a subprocess against the fake Parliament API, delivering to a real
local receiver. What the receiver gets is a valid payload of its kind carrying every item's
official link; how each peer's answers play out in the outbox; that no secret reaches a log
line, a command's output or a file; and ``check-config --send-test`` through each kind."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from channel_peers import (
    SECRET,
    TEAMS_PATH,
    TOKEN,
    outbox,
    run_once,
    sequence,
    service_config,
)
from http_peers import PostServer
from standardwebhooks import Webhook

from watcher import digest
from watcher.config import Cadence, Subscription
from watcher.model import message_from_json
from watcher.store import OutboxState
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.scripted import Exchange, reply

KINDS = ("slack", "teams", "discord", "webhook", "apprise")
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "docs" / "webhook-payload.schema.json").read_text()
)
_OFFICIAL = re.compile(r"https://questions-statements\.parliament\.uk/[^\s|<>()\[\]\"]+")


@pytest.fixture
def receiver() -> Iterator[PostServer]:
    with PostServer() as server:
        yield server


def hook(kind: str, server: PostServer, path: str = "/hook", **extra: Any) -> dict[str, Any]:
    """A channel ``hook`` of ``kind`` delivering to ``server``."""
    url = f"json://127.0.0.1:{server.port}{path}" if kind == "apprise" else server.url(path)
    config: dict[str, Any] = {"id": "hook", "kind": kind, "url": url, "timeout": "5s"}
    if kind == "webhook":
        config["secret"] = SECRET
    return config | extra


def success(kind: str) -> Callable[[Exchange], None]:
    return {
        "slack": lambda e: reply(e, 200, b"ok"),
        "teams": lambda e: reply(e, 202),
        "discord": lambda e: reply(e, 204),
        "webhook": lambda e: reply(e, 200),
        "apprise": lambda e: reply(e, 200, b"{}"),
    }[kind]


def links(text: str) -> set[str]:
    return set(_OFFICIAL.findall(text))


def check_payload(kind: str, body: bytes, headers: dict[str, str]) -> None:
    """``body`` is a valid payload of ``kind``, as its peer would take it."""
    data = json.loads(body)
    if kind == "slack":
        assert isinstance(data["text"], str)
        assert data["text"]
        assert 1 <= len(data["blocks"]) <= 50
        assert {b["type"] for b in data["blocks"]} <= {
            "header",
            "section",
            "context",
            "divider",
            "actions",
            "rich_text",
        }
    elif kind == "teams":
        assert data["type"] == "message"
        [attachment] = data["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert attachment["content"]["type"] == "AdaptiveCard"
        assert attachment["content"]["version"] == "1.4"
        assert len(body) <= 28_000
    elif kind == "discord":
        assert data["allowed_mentions"] == {"parse": []}
        assert 1 <= len(data["embeds"]) <= 10
    elif kind == "webhook":
        jsonschema.validate(data, SCHEMA)
        Webhook(SECRET).verify(body, headers)
    else:  # what Apprise's json:// service posts
        assert data["title"].startswith("[watcher]")
        assert isinstance(data["message"], str)
        assert data["message"]


# --- a digest through each kind --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_delivers_a_valid_digest_with_every_item_s_official_link(
    kind: str, tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    receiver.answer = success(kind)
    config = service_config(tmp_path, api, [hook(kind, receiver)])

    result = run_once(config)
    assert result.returncode == 0, result.stdout + result.stderr
    [(row, items)] = [(d, i) for d, i in outbox(config) if d.channel]  # quiet sent nothing
    assert (row.subscription_id, row.state) == ("team", OutboxState.SENT)
    assert len(items) >= 2  # several items, each to be linked
    stored = message_from_json(row.payload or "")
    assert len(receiver.received) == len(stored.bodies)
    for (_, headers, body), sent in zip(receiver.received, stored.bodies, strict=True):
        check_payload(kind, body, headers)
        if kind != "apprise":  # Apprise re-wraps what it is given for its service
            assert body == sent.encode()
    # Every item of the digest carries its official link (a question answered together with
    # another is shown within that one's item).
    team = Subscription(
        id="team", rules=("send",), channel="hook", to=(), digest=Cadence(kind="immediate")
    )
    built = digest.build(team, items, row.period_end)
    got = links(" ".join(body.decode() for _, _, body in receiver.received))
    assert {item.event.record.url for item in built.items} <= got

    again = run_once(config)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(receiver.received) == len(stored.bodies)  # sent once


def test_slack_s_ok_is_success_and_anything_else_is_tried_again(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    receiver.answer = sequence(lambda e: reply(e, 200, b"not today"), success("slack"))
    config = service_config(tmp_path, api, [hook("slack", receiver)])

    first = run_once(config)
    assert first.returncode == 1
    assert "NOT SENT" in first.stdout
    assert "not today" in first.stdout
    [(row, _)] = outbox(config)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)

    second = run_once(config)
    assert second.returncode == 0, second.stdout + second.stderr
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    [(_, _, refused), (_, _, accepted)] = receiver.received
    assert refused == accepted


def test_slack_s_permanent_refusal_is_dead_at_once(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    receiver.answer = lambda e: reply(e, 404, b"no_service")
    config = service_config(tmp_path, api, [hook("slack", receiver)])
    assert run_once(config).returncode == 1
    [(row, _)] = outbox(config)
    assert (row.state, row.attempts) == (OutboxState.DEAD, 1)
    assert "404 Not Found: no_service" in (row.last_error or "")
    assert run_once(config).returncode == 0  # a dead message waits for `outbox retry`
    assert len(receiver.received) == 1


def test_discord_s_429_is_retried_no_sooner_than_its_body_says(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    limited = json.dumps({"message": "You are being rate limited.", "retry_after": 3.5})
    receiver.answer = sequence(
        lambda e: reply(e, 429, limited.encode(), {"Retry-After": "1"}), success("discord")
    )
    config = service_config(tmp_path, api, [hook("discord", receiver)])

    assert run_once(config).returncode == 1
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.PENDING
    assert row.next_attempt is not None
    assert row.last_attempt is not None
    assert row.next_attempt - row.last_attempt >= timedelta(seconds=3.5)
    assert "rate limited" in (row.last_error or "")

    assert run_once(config).returncode == 0  # --once retries everything pending at once
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    assert all(path.endswith("?wait=true") for path, _, _ in receiver.received)


def test_teams_202_is_delivered_and_logged_as_queued(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    receiver.answer = lambda e: reply(e, 202)
    config = service_config(tmp_path, api, [hook("teams", receiver, TEAMS_PATH)])
    result = run_once(config)
    assert result.returncode == 0, result.stdout + result.stderr
    [(row, _)] = outbox(config)
    assert row.state is OutboxState.SENT
    [sent] = [line for line in result.stderr.splitlines() if "event=delivery_sent" in line]
    assert "202 queued by Power Automate" in sent
    assert [path for path, _, _ in receiver.received] == [TEAMS_PATH]


# --- secrets ---------------------------------------------------------------------------------

SLACK_PATH = f"/services/{TOKEN}"
TEAMS_SIG = "Zx9-Qw_8RtYuIo0PaSdFgHjKl"
APPRISE_PASSWORD = "ApprisePassw0rdSECRET"
APPRISE_TOKEN = "ntfyTopicSECRETd41d8cd98f"
SECRETS = (
    TOKEN,
    *TOKEN.split("/"),
    TEAMS_SIG,
    SECRET,
    SECRET.removeprefix("whsec_"),
    APPRISE_PASSWORD,
    APPRISE_TOKEN,
)


def test_no_secret_reaches_a_log_line_an_output_or_a_file(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    def answer(e: Exchange) -> None:
        # Peers that fail, and echo what they were sent: the path, the headers.
        if e.path.startswith("/services"):
            reply(e, 404, f"no_service {e.path}".encode())
        elif "sig=" in e.path:
            reply(e, 500, json.dumps({"error": {"message": e.path}}).encode())
        elif e.path.startswith("/webhook"):
            reply(e, 401, json.dumps(dict(e.headers)).encode())
        else:
            reply(e, 503, f"down {e.path} {e.headers.get('Authorization')}".encode())

    receiver.answer = answer
    port = receiver.port
    channels = [
        hook("slack", receiver, SLACK_PATH, id="slack"),
        hook("teams", receiver, TEAMS_PATH, id="teams"),
        hook("webhook", receiver, "/webhook/in", id="webhook"),
        {
            "id": "apprise",
            "kind": "apprise",
            "url": f"json://watcher:{APPRISE_PASSWORD}@127.0.0.1:{port}/{APPRISE_TOKEN}",
        },
    ]
    subscriptions = [{"id": c["id"], "rules": ["send"], "channel": c["id"]} for c in channels]
    config = service_config(tmp_path, api, channels, subscriptions)
    debug = ("--log-level", "DEBUG")

    outputs = [run_once(config, *debug), watcher(config, *debug, "status")]
    outputs.append(watcher(config, *debug, "outbox", "list"))
    outputs += [watcher(config, *debug, "outbox", "show", str(d.id)) for d, _ in outbox(config)]
    outputs.append(watcher(config, *debug, "check-config"))
    outputs += [watcher(config, *debug, "check-config", "--send-test", c["id"]) for c in channels]
    assert len(receiver.received) >= 8  # every channel was tried, twice
    assert any("FAILED: test message not sent" in o.stdout for o in outputs)
    shown = "\n".join(o.stdout + o.stderr for o in outputs)
    assert "event=delivery_failed" in shown
    assert f"127.0.0.1:{port}/…" in shown
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name == "watcher.db" for p in files)
    for secret in SECRETS:
        assert secret not in shown
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


# --- check-config --send-test ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_send_test_through_each_kind_reports_the_peer_s_answer(
    kind: str, tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    receiver.answer = success(kind)
    config = service_config(tmp_path, api, [hook(kind, receiver)])
    result = watcher(config, "check-config", "--send-test", "team")
    assert result.returncode == 0, result.stdout + result.stderr
    [said] = [line for line in result.stdout.splitlines() if line.startswith("test message")]
    assert said.startswith("test message for team via hook: ")
    assert "took it" in said if kind == "apprise" else "accepted it" in said
    [(_, headers, body)] = receiver.received
    if kind == "webhook":
        assert Webhook(SECRET).verify(body, headers)["type"] == "watcher.note"
    elif kind == "apprise":
        assert "test message" in json.loads(body)["title"]
    else:
        assert "test message" in body.decode()
    assert "config OK" in result.stdout


def test_check_config_shows_each_channel_masked_and_refuses_an_unknown_apprise_url(
    tmp_path: Path, api: FakeParliamentAPI, receiver: PostServer
) -> None:
    channels = [
        hook("slack", receiver, SLACK_PATH, id="slack"),
        hook("teams", receiver, TEAMS_PATH, id="teams"),
        hook("discord", receiver, id="discord"),
        hook("webhook", receiver, id="webhook"),
        {"id": "apprise", "kind": "apprise", "url": f"json://127.0.0.1/{APPRISE_TOKEN}"},
        {"id": "unknown", "kind": "apprise", "url": f"nosuchservice://{APPRISE_TOKEN}"},
    ]
    subscriptions = [{"id": c["id"], "rules": ["send"], "channel": c["id"]} for c in channels]
    result = watcher(service_config(tmp_path, api, channels, subscriptions), "check-config")
    assert result.returncode == 2, result.stdout + result.stderr
    base = f"http://127.0.0.1:{receiver.port}/…"
    assert f"channel slack: slack {base}, posts at least 1s apart, timeout 5s" in result.stdout
    assert f"channel teams: teams {base} (202: queued by Power Automate)" in result.stdout
    assert f"channel discord: discord {base}, posts at least 500ms apart" in result.stdout
    assert f"channel webhook: webhook {base}, no pace, signed (Standard Webhooks)" in (
        result.stdout
    )
    assert "channel apprise: apprise json://… (best effort)" in result.stdout
    assert (
        "channels[5].url: not a URL Apprise can use (nosuchservice://…: a service it does not "
        "know, or a part missing)" in result.stderr
    )
    assert "channels[4]" not in result.stderr
    for secret in (*SECRETS, "/hook"):
        assert secret not in result.stdout + result.stderr
