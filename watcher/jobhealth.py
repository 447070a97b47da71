"""What each scheduled job last did, so ``watcher health`` can tell a service that ticks from
one that works.

    JobHealth.track(job_id, job)   wraps a job for the scheduler: the errors in the reports it
                                   returns, or the exception it raised, become the job's
                                   ``Outcome``, and every outcome is written to
                                   <data_dir>/health.json
    after(previous, at, error)     the bookkeeping of one run (pure)
    problems(outcomes, max_failures)  which jobs make the service unhealthy (pure)
    read(data_dir)                 the file back, for ``watcher health``
    write_atomically(path, text)   a temporary file of the writer's own, then a rename

A job fails when it raises (a bug: unhealthy at once) or when a report it returns carries an
error (a source or a channel failing: unhealthy after ``max_failures`` runs in a row). Each
process keeps its own outcomes and writes them whole; processes sharing a data folder overwrite
each other's file (as they do the heartbeat), but never leave it half written. When to run the
jobs is left to ``schedule``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.errors import WatcherError
from watcher.logs import q
from watcher.pipeline import PollReport, SendReport

log = logging.getLogger(__name__)

HEALTH_FILE = "health.json"
MAX_ERROR = 300
Report = PollReport | SendReport
Job = Callable[[], Sequence[Report]]

_CREDENTIALS = re.compile(r"(://[^/\s:@]+):[^@\s/]+@")  # scheme://user:password@
# mkstemp makes files only their owner can read; these get the mode a plain open() would give,
# so a health check run as another user still reads them. Read once, before threads start.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@dataclass(frozen=True)
class Outcome:
    """One job's record: its last run, and the failures since its last success."""

    last_run: datetime
    last_success: datetime | None = None
    failures: int = 0  # consecutive, up to the last run
    failing_since: datetime | None = None  # the first of those failed runs
    last_error: str | None = None  # kept after a success, for the curious
    raised: bool = False  # the last run raised: a bug, not a source or channel failing


def after(
    previous: Outcome | None, at: datetime, error: str | None, raised: bool = False
) -> Outcome:
    """The outcome once a run that started ``at`` ended with ``error`` (None: it succeeded)."""
    if error is None:
        return Outcome(at, last_success=at, last_error=previous.last_error if previous else None)
    streak = previous is not None and previous.failures > 0
    return Outcome(
        last_run=at,
        last_success=previous.last_success if previous else None,
        failures=previous.failures + 1 if previous and streak else 1,
        failing_since=previous.failing_since if previous and streak else at,
        last_error=one_line(error),
        raised=raised,
    )


def problems(outcomes: Mapping[str, Outcome], max_failures: int) -> list[str]:
    """Why the service is unhealthy, one sentence per job that raised on its last run or failed
    its last ``max_failures`` runs; empty when every job is fine."""
    out = []
    for job_id, o in sorted(outcomes.items()):
        if o.failures == 0 or not (o.raised or o.failures >= max_failures):
            continue
        last = f"its last run at {_stamp(o.last_run)}"
        since = _stamp(o.failing_since or o.last_run)
        if o.raised:
            what = f"raised an exception (a bug) on {last}"
            if o.failures > 1:
                what += f", {o.failures} failed runs in a row since {since}"
        elif o.failures > 1:
            what = f"failed {o.failures} runs in a row since {since}"
        else:
            what = f"failed {last}"
        out.append(f"{job_name(job_id)} {what}: {o.last_error}")
    return out


def job_name(job_id: str) -> str:
    """``poll:parliament`` → ``poll parliament``, as people read it."""
    return job_id.replace(":", " ", 1)


def one_line(text: str) -> str:
    """An error for the health file and its message: one line, no password, not too long."""
    line = _CREDENTIALS.sub(r"\1:***@", " ".join(text.split()))
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"


def errors_of(reports: Sequence[Report]) -> str | None:
    """The failures a job's reports carry, as one message; None if there are none."""
    found = [
        r.error if isinstance(r, PollReport) else f"digest for {r.subscription}: {r.error}"
        for r in reports
        if r.error
    ]
    return "; ".join(found) or None


class JobHealth:
    """The outcomes of one process's jobs, written to <data_dir>/health.json after each run."""

    def __init__(self, data_dir: Path, clock: Callable[[], datetime]) -> None:
        self.path = data_dir / HEALTH_FILE
        self.clock = clock
        self.outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()  # jobs finish on the scheduler's threads

    def track(self, job_id: str, job: Job) -> Callable[[], None]:
        """``job`` as the scheduler runs it: its outcome recorded, and never an exception out
        of it (one that escapes is logged with its traceback, as a bug)."""

        def run() -> None:
            at = self.clock()
            try:
                error, raised = errors_of(job()), False
            except Exception as exc:
                log.exception("event=job_raised job=%s error=%s", job_id, q(_describe(exc)))
                error, raised = _describe(exc), True
            self.record(job_id, at, error, raised)

        return run

    def record(self, job_id: str, at: datetime, error: str | None, raised: bool = False) -> None:
        with self._lock:
            self.outcomes[job_id] = after(self.outcomes.get(job_id), at, error, raised)
            self.write()

    def write(self) -> None:
        """Every outcome so far, whole (an empty file at start-up hides the last process's).
        A failure is logged: the job it follows has done its work either way."""
        body = {
            "written": datetime.now(UTC).isoformat(),
            "jobs": {job_id: _json(o) for job_id, o in sorted(self.outcomes.items())},
        }
        try:
            write_atomically(self.path, json.dumps(body, indent=1) + "\n")
        except OSError as exc:
            log.warning("event=health_not_written path=%s error=%s", self.path, q(exc))


def read(data_dir: Path) -> dict[str, Outcome]:
    """The outcomes a running service last wrote; empty if it wrote none (yet). Raises
    ``WatcherError`` naming the file if it cannot be read."""
    path = data_dir / HEALTH_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {job_id: _outcome(value) for job_id, value in body["jobs"].items()}
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise WatcherError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WatcherError(f"{path}: not a health file written by watcher ({exc!r:.80})") from exc


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new one, never part.
    The temporary file's name is unique to this call, so writers in other threads or processes
    sharing the folder never rename each other's. Not fsynced: these files are rewritten every
    few seconds, and a torn one after a power cut reads as absent until the next write."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(o: Outcome) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(o).items()}


def _outcome(value: Mapping[str, Any]) -> Outcome:
    def when(key: str) -> datetime | None:
        raw = value.get(key)
        return None if raw is None else datetime.fromisoformat(raw)

    last_run = when("last_run")
    if last_run is None:
        raise ValueError("a job without last_run")
    return Outcome(
        last_run=last_run,
        last_success=when("last_success"),
        failures=int(value["failures"]),
        failing_since=when("failing_since"),
        last_error=value.get("last_error"),
        raised=bool(value.get("raised", False)),
    )
