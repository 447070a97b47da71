"""Several processes on one store send every digest exactly once: ``watcher run`` replicas whose
daily cadence fires at the same minute, and ``watcher run --once`` processes started together,
on an SQLite file and on PostgreSQL, against the recorded API and one local SMTP server.

Before the outbox, two processes both claimed the same rows' delivery and both sent it; these
tests count what the SMTP server received: one message per subscription, no Message-ID twice,
and nothing left owed or unsent in the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_leases import Watcher, eventually

from watcher.store import OutboxState, open_store
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.smtp import SmtpTestServer

SUBSCRIBERS = 30
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def write_config(
    tmp_path: Path,
    name: str,
    store_url: str,
    api: FakeParliamentAPI,
    smtp: SmtpTestServer,
    digest: str,
) -> Path:
    subscriptions = "".join(
        f"""
  - id: sub-{n:02d}
    rules: [send-workforce]
    channel: email
    to: [reader{n:02d}@example.org]
    digest: {digest}"""
        for n in range(SUBSCRIBERS)
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
store: '{store_url}'
data_dir: {tmp_path / name}
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api.base_url}
    every: 1h
    lookback_days: 3
    retries: 0
    timeout: 20s
    max_per_second: 20
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {smtp.port}
    security: none
    from: "Parliament Watcher <alerts@example.org>"
    timeout: 10s
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:{subscriptions}
""")
    return path


def assert_each_subscriber_got_one_message(smtp: SmtpTestServer, store_url: str) -> None:
    messages = smtp.messages
    ids = Counter(str(m["Message-ID"]) for m in messages)
    assert [i for i, n in ids.items() if n > 1] == [], "a message was sent twice"
    subs = Counter(str(m["X-Watcher-Subscription"]) for m in messages)
    assert subs == Counter({f"sub-{n:02d}": 1 for n in range(SUBSCRIBERS)})
    store = open_store(store_url)
    try:
        counts = store.outbox_counts()
        assert (counts[OutboxState.SENT], counts[OutboxState.PENDING]) == (SUBSCRIBERS, 0)
        far = datetime.max.replace(tzinfo=LONDON)
        assert [
            s for n in range(SUBSCRIBERS) if (s := f"sub-{n:02d}") and store.pending(s, far)
        ] == []
    finally:
        store.close()


def next_minute(margin: timedelta) -> datetime:
    """The next whole minute, London time, at least ``margin`` from now."""
    start = (datetime.now(LONDON) + margin).replace(second=0, microsecond=0)
    return start + timedelta(minutes=1)


def test_replicas_whose_cadence_fires_together_send_each_digest_once(
    tmp_path: Path, store_url: str, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    # Every replica runs the daily send at the same minute: each reads the same pending rows,
    # renders the same digests and tries to claim them, then to send what the outbox holds.
    # A "SEND workforce" answer of today, in the replicas' look-back window.
    api.add_copy("8602", "99001", datetime.now(LONDON).date())
    fire = next_minute(timedelta(seconds=12))
    digest = f"daily {fire:%H:%M}"
    replicas = [
        Watcher(write_config(tmp_path, f"r{n}", store_url, api, smtp, digest), "run")
        for n in range(3)
    ]
    try:
        eventually(
            lambda: len(smtp.messages) >= SUBSCRIBERS or any(r.proc.poll() for r in replicas),
            (fire - datetime.now(LONDON)).total_seconds() + 60,
            lambda: "".join(r.output() for r in replicas),
        )
        time.sleep(5)  # a double would arrive now, from a slower replica
    finally:
        codes = [r.stop() for r in replicas]  # 0: each was still running
    assert codes == [0, 0, 0], "".join(r.output() for r in replicas)
    assert_each_subscriber_got_one_message(smtp, store_url)
    senders = {r.proc.pid for r in replicas if r.logged("event=delivery_sent")}
    claims = sum(r.logged("event=delivery_claimed_elsewhere") for r in replicas)
    # Not an assertion of who won: a record that the race was run at all.
    print(f"replicas that sent: {len(senders)}; replicas that lost a claim: {claims}")


@pytest.mark.parametrize("processes", [2, 3])
def test_run_once_processes_started_together_send_each_digest_once(
    tmp_path: Path, store_url: str, api: FakeParliamentAPI, smtp: SmtpTestServer, processes: int
) -> None:
    runs = [
        Watcher(
            write_config(tmp_path, f"p{n}", store_url, api, smtp, "immediate"),
            "run",
            "--once",
            "--since",
            "2024-01-08",
        )
        for n in range(processes)
    ]
    codes = [r.finish(timeout=120) for r in runs]
    assert codes == [0] * processes, "".join(r.output() for r in runs)
    assert_each_subscriber_got_one_message(smtp, store_url)
