"""``watcher outbox list|show|retry|drop`` and the outbox lines of ``watcher status``, as an
operator uses them, on a store holding a sent, a pending (failing) and a dead message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.model import Message, message_to_json
from watcher.store import OutboxState, Outgoing, Store, open_store
from watcher.testing.cli import watcher

T0 = datetime.now(UTC) - timedelta(hours=1)
SLACK_BODY = json.dumps({"text": "1 new answer", "blocks": []})


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
channels:
  - {{id: email, kind: smtp, host: 127.0.0.1, port: 9, security: none, from: "W <w@example.org>"}}
  - {{id: team-slack, kind: slack, url: "https://hooks.slack.com/services/T0/B0/SECRETPART"}}
rules:
  - {{id: r, query: workforce}}
subscriptions:
  - {{id: policy, rules: [r], channel: email, to: [policy@example.org]}}
  - {{id: team, rules: [r], channel: team-slack}}
""")
    return path


@pytest.fixture
def outbox(tmp_path: Path) -> tuple[Path, Store, dict[str, int]]:
    config = write_config(tmp_path)
    store = open_store(f"sqlite:///{tmp_path}/watcher.db")
    store.migrate()
    email = Message("k-sent", subject="[watcher] 1 new answer", text="The answer.\n", html="<p/>")
    slack = Message("k-slack", subject="[watcher] 1 new answer", bodies=(SLACK_BODY,))
    ids = {}
    for key, sub, out in (
        ("k-sent", "policy", Outgoing("email", ("policy@example.org",), "email", "", 1)),
        ("k-pending", "policy", Outgoing("email", ("policy@example.org",), "email", "", 2)),
        ("k-dead", "team", Outgoing("team-slack", (), "slack", message_to_json(slack), 3)),
    ):
        payload = out.payload or message_to_json(email)
        made = store.create_delivery(
            sub, key, [], T0, T0, Outgoing(out.channel, out.target, out.format, payload, out.items)
        )
        assert made is not None
        ids[key] = made.id
    store.claim_due("test", T0 + timedelta(minutes=1))
    store.mark_sent(ids["k-sent"], T0 + timedelta(minutes=1))
    store.mark_failed(ids["k-pending"], "server said 451 try again later", T0, T0)
    store.mark_dead(ids["k-dead"], "HTTP 410 channel_is_archived", T0)
    return config, store, ids


def test_list_shows_every_message_and_filters(outbox: tuple[Path, Store, dict[str, int]]) -> None:
    config, _, ids = outbox
    listed = watcher(config, "outbox", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "ID", "STATE", "CHANNEL", "SUBSCRIPTION", "ITEMS", "TRIES", "CREATED", "NEXT", "/", "SENT"
    ]  # fmt: skip
    assert [line.split()[:3] for line in lines[1:4]] == [
        [str(ids["k-dead"]), "dead", "team-slack"],
        [str(ids["k-pending"]), "pending", "email"],
        [str(ids["k-sent"]), "sent", "email"],
    ]
    assert f"{ids['k-dead']}: HTTP 410 channel_is_archived" in listed.stdout
    dead = watcher(config, "outbox", "list", "--state", "dead")
    assert [line.split()[0] for line in dead.stdout.splitlines()[1:] if line[0].isdigit()] == [
        str(ids["k-dead"]),
        f"{ids['k-dead']}:",
    ]
    by_sub = watcher(config, "outbox", "list", "--subscription", "policy", "--channel", "email")
    assert "team-slack" not in by_sub.stdout
    assert watcher(config, "outbox", "list", "--channel", "nowhere").stdout == (
        "outbox: no messages in that selection\n"
    )


def test_show_prints_the_stored_payload_and_no_secret(
    outbox: tuple[Path, Store, dict[str, int]],
) -> None:
    config, _, ids = outbox
    shown = watcher(config, "outbox", "show", str(ids["k-dead"]))
    assert shown.returncode == 0, shown.stderr
    assert f"message {ids['k-dead']}: dead" in shown.stdout
    assert "channel       team-slack (slack)" in shown.stdout
    assert "last error    HTTP 410 channel_is_archived" in shown.stdout
    assert '"text": "1 new answer"' in shown.stdout
    assert "SECRETPART" not in shown.stdout + shown.stderr
    missing = watcher(config, "outbox", "show", "999")
    assert (missing.returncode, missing.stderr) == (1, "watcher: no message 999 in the outbox\n")


def test_retry_revives_the_dead_and_drop_gives_up(
    outbox: tuple[Path, Store, dict[str, int]],
) -> None:
    config, store, ids = outbox
    refused = watcher(config, "outbox", "retry", str(ids["k-sent"]))
    assert refused.returncode == 1
    assert "is sent, not dead" in refused.stderr
    revived = watcher(config, "outbox", "retry", str(ids["k-dead"]))
    assert revived.returncode == 0, revived.stderr
    assert f"1 message(s) will be sent at the next send: {ids['k-dead']}" in revived.stdout
    row = store.delivery(ids["k-dead"])
    assert row is not None
    assert (row.state, row.attempts) == (OutboxState.PENDING, 0)

    dropped = watcher(config, "outbox", "drop", str(ids["k-dead"]))
    assert dropped.returncode == 0, dropped.stderr
    row = store.delivery(ids["k-dead"])
    assert row is not None
    assert row.state is OutboxState.DROPPED
    again = watcher(config, "outbox", "drop", str(ids["k-sent"]))
    assert again.returncode == 1
    assert "is sent; nothing to drop" in again.stderr


def test_retry_all_revives_every_dead_message(outbox: tuple[Path, Store, dict[str, int]]) -> None:
    config, store, ids = outbox
    store.claim_due("test", datetime.now(UTC) + timedelta(hours=1))
    store.mark_dead(ids["k-pending"], "gave up", datetime.now(UTC))
    revived = watcher(config, "outbox", "retry", "--all")
    assert revived.returncode == 0, revived.stderr
    assert "2 message(s) will be sent" in revived.stdout
    assert store.outbox_counts()[OutboxState.DEAD] == 0
    assert watcher(config, "outbox", "retry").returncode == 2  # an id or --all


def test_status_counts_pending_and_dead(outbox: tuple[Path, Store, dict[str, int]]) -> None:
    config, _, ids = outbox
    status = watcher(config, "status")
    assert status.returncode == 1  # something is undelivered
    assert "outbox: 1 pending, 1 dead, 1 sent" in status.stdout
    assert f"dead digest {ids['k-dead']} for team on team-slack after 1 attempt(s)" in (
        status.stdout
    )
    assert f"watcher outbox retry {ids['k-dead']}" in status.stdout
    assert "SECRETPART" not in status.stdout + status.stderr
