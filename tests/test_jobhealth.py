"""The bookkeeping behind ``watcher health``: each job's outcome from plain values, the verdict,
and the files several writers share (the heartbeat, health.json) never half written."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher import jobhealth, schedule
from watcher.errors import WatcherError
from watcher.jobhealth import JobHealth, Outcome, after, problems
from watcher.pipeline import PollReport, SendReport

T0 = datetime(2026, 12, 1, 10, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def runs(*errors: str | None, raised_last: bool = False) -> Outcome:
    """The outcome after runs a minute apart, starting at T0, ending with these errors."""
    outcome = None
    for i, error in enumerate(errors):
        last = i == len(errors) - 1
        outcome = after(outcome, T0 + i * MINUTE, error, raised=raised_last and last)
    assert outcome is not None
    return outcome


def test_a_success_after_failures_clears_the_streak_and_keeps_the_last_error() -> None:
    o = runs("HTTP 500", "HTTP 500", None)
    assert o == Outcome(
        last_run=T0 + 2 * MINUTE,
        last_success=T0 + 2 * MINUTE,
        failures=0,
        failing_since=None,
        last_error="HTTP 500",
        raised=False,
    )


def test_failures_count_from_the_first_failed_run_after_the_last_success() -> None:
    o = runs(None, "HTTP 500", "timed out", "HTTP 503")
    assert o.failures == 3
    assert o.failing_since == T0 + MINUTE
    assert o.last_success == T0
    assert o.last_run == T0 + 3 * MINUTE
    assert o.last_error == "HTTP 503"


def test_a_job_that_never_succeeded_has_no_last_success() -> None:
    assert runs("HTTP 500").last_success is None


def test_a_raise_is_marked_until_the_next_run_does_not_raise() -> None:
    assert runs(None, "ValueError: x", raised_last=True).raised
    assert not runs("ValueError: x", "HTTP 500").raised
    assert not runs("ValueError: x", None).raised


def test_errors_become_one_line_without_passwords_and_not_too_long() -> None:
    o = runs("store postgresql://watcher:hunter2@db/w refused\n  Traceback line\n" + "x" * 900)
    assert o.last_error is not None
    assert "\n" not in o.last_error
    assert "hunter2" not in o.last_error
    assert "postgresql://watcher:***@db/w refused Traceback line" in o.last_error
    assert len(o.last_error) <= jobhealth.MAX_ERROR


def test_unhealthy_only_once_a_job_failed_its_last_max_failures_runs() -> None:
    assert problems({"poll:parliament": runs(None, "HTTP 500", "HTTP 500")}, 3) == []
    assert problems({"poll:parliament": runs("HTTP 500", "HTTP 500", "HTTP 500", None)}, 3) == []
    failing = runs(None, "HTTP 500", "HTTP 500", "GET /api/x HTTP 500")
    assert problems({"poll:parliament": failing, "retries": runs(None)}, 3) == [
        "poll parliament failed 3 runs in a row since 2026-12-01T10:03:00Z: GET /api/x HTTP 500"
    ]
    assert problems({"poll:parliament": runs("HTTP 500")}, 1) == [
        "poll parliament failed its last run at 2026-12-01T10:02:00Z: HTTP 500"
    ]


def test_a_job_that_raised_on_its_last_run_is_unhealthy_at_once() -> None:
    raised = runs(None, "KeyError: 'uin'", raised_last=True)
    assert problems({"retries": raised}, 3) == [
        "retries raised an exception (a bug) on its last run at 2026-12-01T10:03:00Z: "
        "KeyError: 'uin'"
    ]
    after_failures = runs("HTTP 500", "HTTP 500", "KeyError: 'uin'", raised_last=True)
    assert problems({"poll:wq": after_failures}, 5) == [
        "poll wq raised an exception (a bug) on its last run at 2026-12-01T10:04:00Z, "
        "3 failed runs in a row since 2026-12-01T10:02:00Z: KeyError: 'uin'"
    ]


def test_every_unhealthy_job_is_named_in_order() -> None:
    outcomes = {"retries": runs("a", raised_last=True), "poll:b": runs("b"), "poll:a": runs("a")}
    assert [p.split(" failed")[0].split(" raised")[0] for p in problems(outcomes, 1)] == [
        "poll a",
        "poll b",
        "retries",
    ]


def test_a_jobs_failures_are_the_errors_its_reports_carry() -> None:
    ok = [PollReport("wq", listed=3), SendReport("alice", 1, 2)]
    assert jobhealth.errors_of(ok) == jobhealth.errors_of([]) is None
    assert jobhealth.errors_of([PollReport("wq", skipped=True)]) is None
    assert (
        jobhealth.errors_of(
            [PollReport("wq", error="GET /x: HTTP 500"), SendReport("alice", 1, 2, error="refused")]
        )
        == "GET /x: HTTP 500; digest for alice: refused"
    )


def test_tracked_jobs_are_written_and_read_back(tmp_path: Path) -> None:
    times = iter([T0, T0 + MINUTE, T0 + 2 * MINUTE])
    health = JobHealth(tmp_path, lambda: next(times))
    failing = health.track("poll:wq", lambda: [PollReport("wq", error="GET /x: HTTP 500")])
    sending = health.track("retries", lambda: [SendReport("alice", 1, 2)])
    failing()
    sending()
    failing()
    assert jobhealth.read(tmp_path) == {
        "poll:wq": Outcome(
            last_run=T0 + 2 * MINUTE,
            failures=2,
            failing_since=T0,
            last_error="GET /x: HTTP 500",
        ),
        "retries": Outcome(last_run=T0 + MINUTE, last_success=T0 + MINUTE),
    }


def test_a_job_that_raises_is_recorded_and_logged_and_nothing_escapes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def buggy() -> list[PollReport]:
        raise ZeroDivisionError("division by zero")

    health = JobHealth(tmp_path, lambda: T0)
    with caplog.at_level(logging.ERROR, logger="watcher.jobhealth"):
        health.track("poll:wq", buggy)()
    [outcome] = jobhealth.read(tmp_path).values()
    assert outcome.raised
    assert outcome.last_error == "ZeroDivisionError: division by zero"
    [logged] = caplog.records
    assert logged.getMessage() == 'event=job_raised job=poll:wq error="ZeroDivisionError: ' + (
        'division by zero"'
    )
    assert logged.exc_info is not None  # the traceback goes to the log, not the health file


def test_a_new_process_starts_with_no_outcomes(tmp_path: Path) -> None:
    old = JobHealth(tmp_path, lambda: T0)
    old.record("poll:wq", T0, "HTTP 500")
    JobHealth(tmp_path, lambda: T0).write()
    assert jobhealth.read(tmp_path) == {}


def test_no_health_file_means_no_outcomes_and_a_broken_one_is_named(tmp_path: Path) -> None:
    assert jobhealth.read(tmp_path) == {}
    for broken in ('{"jobs": {"poll:wq": {"last_run": 3}}}', '{"jobs": ', "[]"):
        (tmp_path / jobhealth.HEALTH_FILE).write_text(broken)
        with pytest.raises(WatcherError, match=r"health\.json: not a health file written by"):
            jobhealth.read(tmp_path)


def test_an_unwritable_data_folder_is_logged_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "gone"
    with caplog.at_level(logging.WARNING):
        schedule.beat(gone)
        JobHealth(gone, lambda: T0).track("retries", lambda: [])()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("event=heartbeat_not_written") for m in messages), messages
    assert any(m.startswith("event=health_not_written") for m in messages), messages


BEATS = """
import sys
from pathlib import Path
from watcher import logs, schedule
logs.configure("WARNING")
for _ in range(int(sys.argv[2])):
    schedule.beat(Path(sys.argv[1]))
"""


def test_processes_sharing_a_data_folder_beat_without_errors_or_torn_files(
    tmp_path: Path,
) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", BEATS, str(tmp_path), "1500"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        if (tmp_path / schedule.HEARTBEAT_FILE).exists():
            # Complete: it parses as a time, every time it is there.
            assert schedule.heartbeat_age(tmp_path, datetime.now(UTC)) is not None
            reads += 1
    for w in writers:
        _, stderr = w.communicate(timeout=60)
        assert w.returncode == 0, stderr
        assert stderr == ""  # not even a logged failure to write
    assert reads > 0
    assert [p.name for p in tmp_path.iterdir()] == [schedule.HEARTBEAT_FILE]  # no temp files


def test_threads_writing_health_and_heartbeat_at_once_never_tear_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[BaseException] = []

    def write(n: int) -> None:
        health = JobHealth(tmp_path, lambda: T0)  # one per writer, as in separate processes
        try:
            for i in range(200):
                health.record(f"poll:s{n}", T0, "HTTP 500" if i % 2 else None)
                schedule.beat(tmp_path)
                assert jobhealth.read(tmp_path)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    with caplog.at_level(logging.WARNING):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
    assert caplog.records == []  # no write failed, not even quietly
    assert sorted(p.name for p in tmp_path.iterdir()) == ["health.json", "heartbeat"]
    assert len(json.loads((tmp_path / "health.json").read_text())["jobs"]) == 1


def test_the_files_are_readable_as_a_plain_write_would_leave_them(tmp_path: Path) -> None:
    # A health check may run as another user than the service (docker exec, a host monitor).
    schedule.beat(tmp_path)
    JobHealth(tmp_path, lambda: T0).write()
    (tmp_path / "plain").write_text("")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["heartbeat"] == modes["health.json"] == modes["plain"], modes
