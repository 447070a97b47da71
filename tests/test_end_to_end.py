"""The whole service as a user runs it: the ``watcher`` command in a subprocess, against a
local HTTP server serving recorded API responses and a local SMTP server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI, load_fixtures
from watcher.testing.smtp import SmtpTestServer

SEED_LINK = "https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602"
SINCE = "2024-01-08"


def seed(api: FakeParliamentAPI) -> dict[str, Any]:
    return next(q for q in api.questions.values() if q["uin"] == "8602")


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def write_config(
    tmp_path: Path,
    api: FakeParliamentAPI,
    smtp: SmtpTestServer,
    query: str = '"SEND workforce"',
    every: str = "15m",
    extra_source: str = "",
) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
contact: tests@example.org
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api.base_url}
    every: {every}
    lookback_days: 3
    retries: 1
    backoff: 10ms
    timeout: 1s
    max_per_second: 20
{extra_source}
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {smtp.port}
    security: none
    from: "Parliament Watcher <alerts@example.org>"
    timeout: 5s
rules:
  - id: send-workforce
    query: '{query}'
subscriptions:
  - rules: [send-workforce]
    channel: email
    to: [policy@example.org]
    digest: immediate
""")
    return path


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    return watcher(config, "run", "--once", "--since", SINCE)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_seed_answer_is_delivered_once_highlighted_with_its_link(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp)

    first = run_once(config)
    assert first.returncode == 0, first.stderr
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "policy@example.org"
    assert message["Message-ID"]
    text, html = bodies(message)
    assert "Special Educational Needs" in message["Subject"]
    assert "<mark>SEND workforce</mark>" in html
    assert SEED_LINK in html
    assert SEED_LINK in text
    assert "David Johnston" in text
    assert '"SEND workforce" in the answer' in text  # why it matched
    assert "Department for Education" in text
    # The phrase lies beyond the list endpoint's truncation: it came from the detail request.
    assert any(path.endswith(f"/questions/{seed(api)['id']}") for path, _ in api.requests)

    api.requests.clear()
    second = run_once(config)
    assert second.returncode == 0, second.stderr
    assert len(smtp.messages) == 1
    # An unchanged poll makes list requests only.
    assert api.requests
    assert all(path.endswith("/api/writtenquestions/questions") for path, _ in api.requests)


def test_a_correction_sends_one_corrected_email_with_old_and_new_text(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp)
    assert run_once(config).returncode == 0
    assert len(smtp.messages) == 1

    api.correct(
        "8602",
        "a steering group has now been established",
        "a cross-government steering group was established in 2023",
        on=date(2024, 1, 22),
    )

    result = run_once(config)
    assert result.returncode == 0, result.stderr
    assert len(smtp.messages) == 2
    message = smtp.messages[1]
    assert message["Message-ID"] != smtp.messages[0]["Message-ID"]
    text, html = bodies(message)
    assert "orrect" in message["Subject"] or "orrected" in text
    assert "a steering group has now been established" in text  # the old text
    assert "a cross-government steering group was established in 2023" in text  # the new text
    assert "<mark>SEND workforce</mark>" in html

    assert run_once(config).returncode == 0
    assert len(smtp.messages) == 2


def test_acronym_rule_ignores_send_used_as_a_verb(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    verb = next(
        q
        for q in load_fixtures()
        if "send" in q["answerText"]
        and "SEND" not in q["answerText"]
        and "SEND" not in q["questionText"]
    )
    config = write_config(tmp_path, api, smtp, query="SEND")
    assert run_once(config).returncode == 0
    delivered = "\n".join(bodies(m)[0] for m in smtp.messages)
    assert "Special Educational Needs" in delivered
    assert verb["heading"] not in delivered

    lower = write_config(tmp_path / "lower", api, smtp, query="send")
    smtp.messages.clear()
    assert run_once(lower).returncode == 0
    delivered = "\n".join(bodies(m)[0] for m in smtp.messages)
    assert verb["heading"] in delivered  # the lower-case rule does see the verb


FAULTS: dict[str, Callable[[FakeParliamentAPI], None]] = {
    "500": lambda api: api.fail(times=50, status=500),
    "429 with Retry-After": lambda api: api.fail(times=50, status=429, retry_after=600),
    "garbage": lambda api: api.garbage(times=50),
    "timeout": lambda api: api.hang(times=50, seconds=3),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_failing_source_is_recorded_and_the_next_poll_catches_up(
    fault: str, tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp)
    FAULTS[fault](api)

    failed = run_once(config)
    assert failed.returncode == 1
    assert "ERROR" in failed.stdout
    assert smtp.messages == []
    status = watcher(config, "status")
    assert status.returncode == 1
    assert "failing" in status.stdout

    api.clear_faults()
    caught_up = run_once(config)
    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert len(smtp.messages) == 1
    assert "<mark>SEND workforce</mark>" in bodies(smtp.messages[0])[1]
    status = watcher(config, "status")
    assert status.returncode == 0, status.stdout
    assert "failing" not in status.stdout


def test_a_429_with_a_short_retry_after_is_waited_out_within_the_poll(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp)
    api.fail(times=1, status=429, retry_after=1)
    started = time.monotonic()
    result = run_once(config)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1
    assert len(smtp.messages) == 1


def test_refused_email_stays_unsent_and_goes_out_on_a_later_run(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp)
    smtp.refuse(times=1, code=451, message="try again later")
    refused = run_once(config)
    assert refused.returncode == 1
    assert "NOT SENT" in refused.stdout
    assert smtp.messages == []
    assert "undelivered digest" in watcher(config, "status").stdout

    retried = run_once(config)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert len(smtp.messages) == 1
    assert "<mark>SEND workforce</mark>" in bodies(smtp.messages[0])[1]
    assert run_once(config).returncode == 0
    assert len(smtp.messages) == 1


def test_running_service_survives_a_failing_source_and_stops_cleanly(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    # A scheduled poll looks back from today, so today's answer is what it finds.
    api.add_copy("8602", new_uin="99001", answered=date.today())
    with FakeParliamentAPI.with_fixtures() as broken:
        broken.fail(times=1000, status=503)
        config = write_config(
            tmp_path,
            api,
            smtp,
            every="1h",
            extra_source=f"""\
  - id: broken
    kind: parliament_written_questions
    base_url: {broken.base_url}
    every: 1h
    retries: 0
""",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not smtp.messages and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.2)
            assert len(smtp.messages) == 1
            health = watcher(config, "health")
            assert health.returncode == 0, health.stderr
            # The failure is recorded on its source, once that poll has finished.
            while "503" not in (status := watcher(config, "status")).stdout:
                assert time.monotonic() < deadline, status.stdout
                time.sleep(0.2)
            assert status.returncode == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "event=poll_failed source=broken" in stderr
    assert "event=poll_done source=written-questions" in stderr
    assert "event=stopped" in stderr


def test_invalid_query_exits_2_with_its_position(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    config = write_config(tmp_path, api, smtp, query='"SEND workforce')
    result = run_once(config)
    assert result.returncode == 2
    assert "rules[0].query" in result.stderr
    assert "position 0" in result.stderr
    assert str(config) in result.stderr
