"""``watcher run`` started before its database: it waits, says so, and starts polling once the
database answers (containers and Kubernetes often start the service first)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy.engine import make_url

from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.proxy import TcpProxy


class Lines:
    """A process's stderr, read as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, test: Callable[[list[str]], bool], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not test(self.lines):
            assert time.monotonic() < deadline, "".join(self.lines)
            if self.proc.poll() is not None:
                self._thread.join(timeout=5)  # the last lines say why it exited
                pytest.fail(f"exited with {self.proc.returncode}:\n{''.join(self.lines)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, and wait for the process and the last of its output."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self._thread.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()

    def count(self, fragment: str) -> int:
        return sum(fragment in line for line in self.lines)


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres
def test_run_waits_for_a_database_that_starts_late(tmp_path: Path, postgres_store_url: str) -> None:
    real = make_url(postgres_store_url)
    with (
        FakeParliamentAPI.with_fixtures() as api,
        TcpProxy((real.host or "", real.port or 5432)) as proxy,
    ):
        api.add_copy("8602", new_uin="99003", answered=date.today())
        url = real.set(port=proxy.port).render_as_string(hide_password=False)
        config = tmp_path / "watcher.yaml"
        config.write_text(f"""
store: {url}
data_dir: {tmp_path}/data
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api.base_url}
    every: 1h
    max_per_second: 20
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - rules: [send-workforce]
""")
        proc = start(config)
        stderr = Lines(proc)
        try:
            # Nothing listens yet: it keeps trying, and says so, and does not exit.
            stderr.wait_for(lambda _: stderr.count("event=store_unreachable") >= 2)
            assert proc.poll() is None
            assert "Connection refused" in "".join(stderr.lines)
            health = watcher(config, "health")
            assert health.returncode == 1
            assert "unhealthy: still starting, waiting for the store (try " in health.stderr

            proxy.start()  # the database comes up
            outbox = tmp_path / "data" / "outbox"
            stderr.wait_for(lambda _: bool(list(outbox.glob("*.eml"))))
            stderr.wait_for(lambda _: stderr.count("event=started") == 1)
            assert stderr.count("event=store_reachable") == 1
            assert stderr.count("event=poll_done") >= 1
            stderr.wait_for(lambda _: watcher(config, "health").returncode == 0, seconds=30)
        finally:
            stderr.stop()
    assert proc.returncode == 0, "".join(stderr.lines)


def test_run_stops_cleanly_while_it_waits(tmp_path: Path) -> None:
    with TcpProxy(("127.0.0.1", 9)) as proxy:  # never started: every connection is refused
        config = tmp_path / "watcher.yaml"
        config.write_text(
            f"store: postgresql://watcher:hunter2@127.0.0.1:{proxy.port}/watcher\n"
            f"data_dir: {tmp_path}/data\n"
            "rules:\n  - id: r\n    query: SEND\nsubscriptions:\n  - rules: [r]\n"
        )
        proc = start(config)
        stderr = Lines(proc)
        try:
            stderr.wait_for(lambda _: stderr.count("event=store_unreachable") >= 1)
        finally:
            stderr.stop()
    assert proc.returncode == 0, "".join(stderr.lines)
    text = "".join(stderr.lines)
    assert "store=postgresql://watcher:***@127.0.0.1:" in text
    assert "hunter2" not in text
    assert "Traceback" not in text
    # Stopped while waiting: health must not claim it is still starting.
    health = watcher(config, "health")
    assert health.returncode == 1
    assert "still starting" not in health.stderr
