"""What happens to a digest email when things break, through the ``watcher`` command in a
subprocess: the process killed after the server took the message but before it was marked sent
(the copy sent again has the same Message-ID), and an SMTP server that is down for a while
(the message goes out once it is back, exactly once)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher import sending, service
from watcher.config import load
from watcher.store import OutboxState, open_store
from watcher.store.base import CLAIM_FOR
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.smtp import SmtpTestServer

SINCE = "2024-01-08"
SINCE_ARGS = ("--since", SINCE)


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def write_config(tmp_path: Path, api: FakeParliamentAPI, port: int) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api.base_url}
    lookback_days: 3
    retries: 0
    timeout: 5s
    max_per_second: 20
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {port}
    security: none
    from: "Parliament Watcher <alerts@example.org>"
    timeout: 60s
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - id: policy
    rules: [send-workforce]
    to: [policy@example.org]
""")
    return path


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    return watcher(config, "run", "--once", *SINCE_ARGS)


def outbox_states(config: Path) -> list[tuple[OutboxState, str | None]]:
    store = open_store(load(config, env={}).store_url)
    try:
        return [(d.state, d.claimed_by) for d in store.outbox()]
    finally:
        store.close()


def test_killed_after_the_server_took_it_the_message_goes_again_with_its_message_id(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp.port)
    smtp.hold()  # the server keeps the message and does not answer: the client waits for 250
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "run", "--once", *SINCE_ARGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert smtp.held.wait(60), "the digest never reached the server"
    finally:
        proc.send_signal(signal.SIGKILL)  # between the server taking it and mark_sent
        proc.wait(30)
    smtp.release()
    [first] = smtp.messages
    [(state, holder)] = outbox_states(config)
    assert state is OutboxState.PENDING
    assert holder is not None
    assert holder.endswith(f":{proc.pid}")

    # Another run at once leaves it alone: the dead sender's claim still stands, and a live
    # sender in its place could be about to hear its 250.
    assert run_once(config).returncode == 0
    assert len(smtp.messages) == 1

    # Once the claim has lapsed, the next sender sends it again. The claim is CLAIM_FOR
    # (5 minutes) of the store's clock; rather than wait that out, this sender's clock is
    # set past it, through the clock every Service takes, and nothing else is changed.
    later = datetime.now(UTC) + CLAIM_FOR + timedelta(seconds=5)
    svc = service.build(load(config, env={}), clock=lambda: later)
    try:
        [report] = sending.send_due(svc, retry_now=True)
    finally:
        service.close(svc)
    assert report.error is None
    _first_again, second = smtp.messages
    assert second["Message-ID"] == first["Message-ID"]  # the receiver can tell it is a repeat
    assert second["Subject"] == first["Subject"]
    assert outbox_states(config) == [(OutboxState.SENT, None)]

    assert run_once(config).returncode == 0
    assert len(smtp.messages) == 2  # sent is sent: nothing goes a third time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_digest_waits_out_an_smtp_outage_and_is_delivered_once(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    port = free_port()  # nothing listens there yet: connection refused
    config = write_config(tmp_path, api, port)
    for _ in range(2):
        down = run_once(config)
        assert down.returncode == 1
        assert "digest policy: 1 item(s) NOT SENT" in down.stdout
        assert "Connection refused" in down.stdout
    with SmtpTestServer(port=port) as smtp:
        up = run_once(config)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "digest policy: 1 item(s) sent" in up.stdout
        assert len(smtp.messages) == 1
        assert "SEND workforce" in str(smtp.messages[0].get_body(("plain",)))
        again = run_once(config)
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(smtp.messages) == 1
    [(state, _)] = outbox_states(config)
    assert state is OutboxState.SENT
