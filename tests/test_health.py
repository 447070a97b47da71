"""``watcher health`` against a running ``watcher run``, as a container's HEALTHCHECK meets it: a
service whose scheduler ticks but whose polls or sends fail is not healthy."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI

SOURCE = """\
  - id: {id}
    kind: parliament_written_questions
    base_url: {url}
    every: 1m
    retries: 0
    max_per_second: 20
"""


def write_config(tmp_path: Path, sources: str, extra: str = "") -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
data_dir: {tmp_path}/data
{extra}
sources:
{sources}
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - rules: [send-workforce]
""")
    return path


@contextmanager
def running(config: Path) -> Iterator[Callable[[], str]]:
    """``watcher run`` in the background; yields what it has logged so far. Stops it with
    SIGTERM on the way out and checks it stopped cleanly."""
    log = config.parent / "run.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )

        def logged() -> str:
            assert proc.poll() is None, log.read_text()
            return log.read_text()

        try:
            yield logged
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()
    assert "event=stopped" in log.read_text()


def health_until(
    config: Path, test: Callable[[subprocess.CompletedProcess[str]], bool], *args: str
) -> subprocess.CompletedProcess[str]:
    # Generous: a poll every minute, on a machine shared with other work.
    deadline = time.monotonic() + 120
    while not test(result := watcher(config, "health", *args)):
        assert time.monotonic() < deadline, result.stdout + result.stderr
        time.sleep(0.5)
    return result


def test_health_names_a_failing_source_while_the_heartbeat_is_fresh_and_recovers(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    with FakeParliamentAPI.with_fixtures() as broken:
        broken.fail(times=1_000_000, status=500)
        sources = SOURCE.format(id="written-questions", url=api.base_url) + SOURCE.format(
            id="broken", url=broken.base_url
        )
        config = write_config(tmp_path, sources)
        with running(config) as logged:
            failing = health_until(
                config, lambda r: r.returncode == 1 and "broken" in r.stderr, "--max-failures", "1"
            )
            assert re.fullmatch(
                r"unhealthy: poll broken failed its last run at "
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: "
                r"GET /api/writtenquestions/questions .*HTTP 500.*\n",
                failing.stderr,
            ), failing.stderr
            assert "written-questions" not in failing.stderr  # the other source is fine
            # The heartbeat is fresh: one failure is below the default of three in a row.
            default = watcher(config, "health")
            assert default.returncode == 0, default.stderr
            assert re.fullmatch(
                r"healthy: last heartbeat \d+s ago, \d of \d jobs ok\n", default.stdout
            ), default.stdout
            assert "event=poll_failed source=broken" in logged()

            broken.clear_faults()  # the source works again: its next poll (a minute on) succeeds
            healthy = health_until(config, lambda r: r.returncode == 0, "--max-failures", "1")
            assert healthy.stderr == ""
            assert re.fullmatch(
                r"healthy: last heartbeat \d+s ago, 3 of 3 jobs ok\n", healthy.stdout
            )
            assert "event=poll_done source=broken" in logged()


def test_a_send_that_fails_on_a_broken_template_makes_health_unhealthy(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    # A scheduled poll looks back from today: today's answer matches and is sent soon after,
    # and this template fails with a Python error: the delivery fails, naming the template.
    api.add_copy("8602", new_uin="99004", answered=date.today())
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.txt.j2").write_text("{{ 1 // 0 }}\n")
    config = write_config(
        tmp_path,
        SOURCE.format(id="written-questions", url=api.base_url),
        extra=f"templates: {templates}",
    )
    with running(config) as logged:
        result = health_until(config, lambda r: "send failed" in r.stderr, "--max-failures", "1")
        assert result.returncode == 1
        assert re.search(
            r"^unhealthy: send failed its last run at \S+Z: .*digest\.txt\.j2: line 1: "
            r"template error: ZeroDivisionError: integer division or modulo by zero$",
            result.stderr,
            re.MULTILINE,
        ), result.stderr
        assert "Traceback" not in result.stderr
        text = logged()
        assert "event=delivery_failed" in text
        assert "event=job_raised" not in text  # a broken template is the config's, not a bug


def test_health_reads_what_the_service_left_in_its_data_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path, SOURCE.format(id="wq", url="http://127.0.0.1:9"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "heartbeat").write_text(datetime.now(UTC).isoformat())
    # No job outcomes (a service of an earlier version): the heartbeat alone, as before.
    result = watcher(config, "health")
    assert result.returncode == 0
    # Seconds since the beat written above: how long the command took to start, on a busy machine.
    assert re.fullmatch(r"healthy: last heartbeat \ds ago\n", result.stdout), result.stdout

    (data / "health.json").write_text("{not json")
    result = watcher(config, "health")
    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: {data / 'health.json'}: not a health file")
    assert "Traceback" not in result.stderr

    bad = watcher(config, "health", "--max-failures", "0")
    assert bad.returncode == 2
    assert "--max-failures: invalid _at_least_one value" not in bad.stderr
    assert "'0' is not a whole number of 1 or more" in bad.stderr


def test_several_sources_polled_together_send_each_subscription_one_message(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    # Two sources find today's answer at the first tick; an immediate subscription gets one
    # message holding both, not one message per source.
    api.add_copy("8602", new_uin="99005", answered=date.today())
    sources = SOURCE.format(id="commons-team", url=api.base_url) + SOURCE.format(
        id="lords-team", url=api.base_url
    )
    config = write_config(tmp_path, sources)
    outbox = tmp_path / "data" / "outbox"
    with running(config) as logged:
        deadline = time.monotonic() + 120
        while "event=delivery_sent" not in logged():
            assert time.monotonic() < deadline, logged()
            time.sleep(0.5)
        time.sleep(2)  # a second message, if one were coming, would follow straight away
        text = logged()
    assert text.count("event=poll_done") >= 2
    assert text.count("event=delivery_sent") == 1
    [message] = outbox.glob("*.eml")
    assert "Subject: [watcher] 2 new answers" in message.read_text()  # one found by each
