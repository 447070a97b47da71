"""Polling leases as operators meet them: ``watcher run --once`` and ``watcher run`` replicas in
subprocesses on one store, killed with SIGKILL while they poll.

A source's lease ends with the process holding it, so a killed poller never blocks the next
one; a poll that finds the lease held says who holds it (``run --once`` waits a while, then
fails; a running replica looks again shortly). The tests of a killed poller run on SQLite and
PostgreSQL; what the command does with a held lease is the same on both, tested on SQLite.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

import pytest

from watcher.store import PollOutcome, Store, open_store
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import LIST_PATH, FakeParliamentAPI

SOURCE = "written-questions"
SINCE = "2024-01-08"  # the recorded answers: a poll from here finds "SEND workforce" owed
T = TypeVar("T")


def write_config(tmp_path: Path, store_url: str, api: FakeParliamentAPI, name: str) -> Path:
    """A config of its own (data folder ``<tmp>/<name>``) on the shared store, polling hourly.
    Subscribers get the built-in ``files`` channel: each message an .eml file under
    ``<data folder>/outbox``."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
store: '{store_url}'
data_dir: {tmp_path / name}
sources:
  - id: {SOURCE}
    kind: parliament_written_questions
    base_url: {api.base_url}
    every: 1h
    lookback_days: 3
    retries: 0
    timeout: 50s
    max_per_second: 20
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - rules: [send-workforce]
""")
    return path


def outbox(tmp_path: Path, name: str) -> list[Path]:
    return sorted((tmp_path / name / "outbox").glob("*.eml"))


class Watcher:
    """``watcher ARGS...`` running in a subprocess, its stderr read as it comes."""

    def __init__(self, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=_read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @property
    def holder(self) -> str:
        """The name it takes leases under."""
        return f"{socket.gethostname()}:{self.proc.pid}"

    def logged(self, fragment: str) -> bool:
        return any(fragment in line for line in self.err)

    def finish(self, timeout: float = 60) -> int:
        """Wait for it to exit, and for the last of its output."""
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            stream.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is cleaned up or released."""
        self.proc.send_signal(signal.SIGKILL)
        assert self.finish() == -signal.SIGKILL

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def output(self) -> str:
        return "".join(self.out + self.err)


def _read(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def eventually(test: Callable[[], T | None], seconds: float, why: Callable[[], str]) -> T:
    deadline = time.monotonic() + seconds
    while (found := test()) is None or found is False:
        assert time.monotonic() < deadline, why()
        time.sleep(0.1)
    return found


def listing_requested(api: FakeParliamentAPI) -> bool:
    return any(path == LIST_PATH for path, _ in list(api.requests))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'watcher.db'}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """The test's own process on the store: another replica, as far as the command knows."""
    s = open_store(sqlite_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def test_run_once_killed_mid_poll_leaves_the_next_run_free_to_poll_and_deliver(
    tmp_path: Path, store_url: str, store: Store, api: FakeParliamentAPI
) -> None:
    config = write_config(tmp_path, store_url, api, "data")
    api.hang(times=1, seconds=60, endpoint="list")  # the first poll stalls on its listing
    stalled = Watcher(config, "run", "--once", "--since", SINCE)
    try:
        held = eventually(lambda: store.lease_holder(SOURCE), 60, stalled.output)
        assert held.holder == stalled.holder
        eventually(lambda: listing_requested(api), 60, stalled.output)
    finally:
        stalled.kill()
    assert outbox(tmp_path, "data") == []  # it died before it committed anything

    # No wait allowed: had the dead process's lease outlived it, this would not poll at all.
    result = watcher(config, "run", "--once", "--since", SINCE, "--wait", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "event=poll_skipped" not in result.stderr
    assert f"poll {SOURCE}: listed " in result.stdout
    assert "digest " in result.stdout
    assert " sent" in result.stdout
    assert len(outbox(tmp_path, "data")) == 1  # what was owed is delivered
    assert store.lease_holder(SOURCE) is None


def test_run_once_waits_then_names_the_holder_and_fails(
    tmp_path: Path, sqlite_url: str, sqlite_store: Store, api: FakeParliamentAPI
) -> None:
    store = sqlite_store
    config = write_config(tmp_path, sqlite_url, api, "data")
    assert store.lease(SOURCE, "replica-7:4242", datetime(2025, 3, 3, 9, 0, tzinfo=UTC))

    result = watcher(config, "run", "--once", "--since", SINCE, "--wait", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"poll {SOURCE}: NOT POLLED, source {SOURCE} is being polled by replica-7:4242 "
        "since 2025-03-03 09:00:00 UTC (waited 1s; --wait sets how long)\n"
    ) in result.stdout
    assert f"event=poll_waiting source={SOURCE} holder=replica-7:4242" in result.stderr
    assert (
        f"event=poll_skipped source={SOURCE} reason=leased_elsewhere holder=replica-7:4242 "
        "since=2025-03-03T09:00:00+00:00"
    ) in result.stderr
    assert not listing_requested(api)
    status = watcher(config, "status")
    assert f"source {SOURCE} is being polled by replica-7:4242 since " in status.stdout

    store.release(SOURCE)
    assert "is being polled" not in watcher(config, "status").stdout
    result = watcher(config, "run", "--once", "--since", SINCE, "--wait", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(outbox(tmp_path, "data")) == 1


def test_run_once_polls_as_soon_as_the_holder_lets_go(
    tmp_path: Path, sqlite_url: str, sqlite_store: Store, api: FakeParliamentAPI
) -> None:
    store = sqlite_store
    config = write_config(tmp_path, sqlite_url, api, "data")
    assert store.lease(SOURCE, "replica-7:4242", datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    waiting = Watcher(config, "run", "--once", "--since", SINCE, "--wait", "120")
    try:
        eventually(lambda: waiting.logged("event=poll_waiting"), 60, waiting.output)
        assert not listing_requested(api)
        store.release(SOURCE)
        assert waiting.finish() == 0, waiting.output()
    finally:
        waiting.stop()
    assert f"poll {SOURCE}: listed " in "".join(waiting.out)
    assert len(outbox(tmp_path, "data")) == 1


def test_when_the_replica_polling_is_killed_a_survivor_polls_within_seconds(
    tmp_path: Path, store_url: str, store: Store, api: FakeParliamentAPI
) -> None:
    """Three ``watcher run`` on one store, polling hourly: the one that takes the lease stalls
    mid-poll and is killed. A survivor, which skipped its poll while the lease was held, looks
    again ``LEASE_RECHECK`` later and polls: not at its next tick an hour later, and not after
    a lease's term."""
    api.hang(times=1, seconds=120, endpoint="list")
    replicas = [Watcher(write_config(tmp_path, store_url, api, f"r{n}"), "run") for n in range(3)]
    try:
        held = eventually(
            lambda: store.lease_holder(SOURCE), 60, lambda: "".join(r.output() for r in replicas)
        )
        [doomed] = [r for r in replicas if r.holder == held.holder]
        survivors = [r for r in replicas if r is not doomed]
        eventually(lambda: listing_requested(api), 60, doomed.output)
        skipped = f"event=poll_skipped source={SOURCE} reason=leased_elsewhere holder={held.holder}"
        for r in survivors:  # their first tick came while it polled
            eventually(partial(r.logged, skipped), 60, r.output)

        doomed.kill()
        polled = eventually(
            lambda: next(
                (r for r in survivors if r.logged(f"event=poll_done source={SOURCE}")), None
            ),
            60,  # LEASE_RECHECK, and slack for a slow machine; the next tick is an hour away
            lambda: "".join(r.output() for r in survivors),
        )
        assert polled.holder != held.holder
    finally:
        codes = [r.stop() for r in replicas if r.proc.returncode is None]
    assert codes == [0, 0], "".join(r.output() for r in replicas)


def test_a_replica_that_skipped_leaves_the_source_alone_once_the_holder_has_polled(
    tmp_path: Path, sqlite_url: str, sqlite_store: Store, api: FakeParliamentAPI
) -> None:
    since = datetime.now(UTC)
    assert sqlite_store.lease(SOURCE, "replica-7:4242", since)
    replica = Watcher(write_config(tmp_path, sqlite_url, api, "r0"), "run")
    try:
        skipped = (
            f"event=poll_skipped source={SOURCE} reason=leased_elsewhere holder=replica-7:4242"
        )
        eventually(partial(replica.logged, skipped), 60, replica.output)
        # The holder's poll is committed, and it lets go: the source has just been polled.
        sqlite_store.commit(PollOutcome(source=SOURCE, started=since))
        sqlite_store.release(SOURCE)
        done = (
            f"event=poll_not_needed source={SOURCE} reason=polled_by_holder holder=replica-7:4242"
        )
        eventually(partial(replica.logged, done), 60, replica.output)
        assert not listing_requested(api)
        assert not replica.logged("event=poll_done")
    finally:
        assert replica.stop() == 0, replica.output()


def test_wait_is_a_whole_number_of_seconds_for_run_once(
    tmp_path: Path, sqlite_url: str, api: FakeParliamentAPI
) -> None:
    config = write_config(tmp_path, sqlite_url, api, "data")
    bad = watcher(config, "run", "--once", "--wait", "1m")
    assert bad.returncode == 2
    assert "'1m' is not a whole number of 0 or more" in bad.stderr
    alone = watcher(config, "run", "--wait", "5")
    assert alone.returncode == 2
    assert "--wait works only with run --once" in alone.stderr
