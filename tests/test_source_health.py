"""Source health end to end: the pipeline with real parts (local API server, SQLite store, a files
channel for operators, an SMTP test server) and a clock the test moves; ``watcher status`` as
a user runs it, in a subprocess."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watcher import operators, pipeline, service
from watcher.config import parse
from watcher.incidents import Kind, Notice
from watcher.pipeline import Service
from watcher.render.notices import notice_message
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.smtp import SmtpTestServer

SINCE = date(2024, 1, 8)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def config_text(tmp_path: Path, api: FakeParliamentAPI, smtp_port: int, extra: str = "") -> str:
    return f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
sources:
  - id: wq
    kind: parliament_written_questions
    base_url: {api.base_url}
    retries: 0
    backoff: 1ms
    timeout: 2s
    max_per_second: 20
{extra}
channels:
  - id: ops-mail
    kind: smtp
    host: 127.0.0.1
    port: {smtp_port}
    security: none
    from: "Watcher <watcher@example.org>"
    timeout: 5s
  - id: ops-files
    kind: files
    path: {tmp_path}/ops
rules:
  - id: r
    query: '"SEND workforce"'
operators:
  - channel: ops-mail
    to: [oncall@example.org]
  - channel: ops-files
"""


def make_service(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer, clock: Clock, extra: str = ""
) -> Service:
    config = parse(config_text(tmp_path, api, smtp.port, extra), "test.yaml", {})
    return service.build(config, clock=clock)


def files(tmp_path: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for f in sorted((tmp_path / "ops").glob("*.eml"))
    ]


def poll_and_notify(svc: Service, clock: Clock, since: date | None = SINCE) -> None:
    pipeline.poll(svc, "wq", since=since)
    operators.notify(svc)
    clock.now += timedelta(minutes=15)


def test_three_failures_raise_one_alert_and_one_recovery_notice_on_every_operator(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    clock = Clock(datetime(2024, 1, 15, 10, 2, tzinfo=UTC))
    svc = make_service(tmp_path, api, smtp, clock)
    api.fail(times=1000, status=500)
    for _ in range(2):
        poll_and_notify(svc, clock)
    assert smtp.messages == []  # two failures: below the threshold
    for _ in range(4):
        poll_and_notify(svc, clock)
    [alert] = smtp.messages
    assert alert["To"] == "oncall@example.org"
    subject = alert["Subject"].strip()  # a long subject is folded: the parser keeps a space
    assert subject.startswith("[watcher] source wq failing since 2024-01-15 10:02 GMT: ")
    assert "HTTP 500" in subject
    text = alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "3 failed polls in a row" in text
    assert svc.store.source_state("wq").incidents == {
        Kind.FAILING: datetime(2024, 1, 15, 10, 2, tzinfo=UTC)
    }
    assert [m["Subject"].strip() for m in files(tmp_path)] == [subject]

    api.clear_faults()
    for _ in range(3):
        poll_and_notify(svc, clock)
    assert len(smtp.messages) == 2
    recovered = smtp.messages[1]["Subject"].strip()
    assert (
        recovered == "[watcher] source wq recovered: no longer failing (since 2024-01-15 10:02 GMT)"
    )
    assert [m["Subject"].strip() for m in files(tmp_path)] == [subject, recovered]
    assert svc.store.source_state("wq").incidents == {}
    service.close(svc)


def test_a_refusing_operator_channel_is_retried_and_never_stops_polling(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    clock = Clock(datetime(2024, 1, 15, 10, 0, tzinfo=UTC))
    svc = make_service(tmp_path, api, smtp, clock, extra="    failure_threshold: 1\n")
    api.fail(times=1000, status=500)
    smtp.refuse(times=1, code=451, message="try again later")
    pipeline.poll(svc, "wq", since=SINCE)
    reports = operators.notify(svc)
    assert [r.error is None for r in reports] == [False, True]  # mail refused, files written
    assert smtp.messages == []
    [waiting] = svc.store.unsent_notices("ops-mail:oncall@example.org", clock.now + timedelta(1))
    assert waiting.attempts == 1
    assert "451" in (waiting.last_error or "")

    clock.now += timedelta(minutes=5)
    assert pipeline.poll(svc, "wq", since=SINCE).error is not None  # polling goes on
    operators.notify(svc)
    assert len(smtp.messages) == 1  # the retry, once its time came
    assert len(files(tmp_path)) == 1  # the other operator's copy was not sent again
    operators.notify(svc, retry_now=True)
    assert len(smtp.messages) == 1
    service.close(svc)


def test_a_quiet_source_raises_one_silence_alert(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    # Thursday 14 March 2024, 09:00, after every recorded item: the first poll stores them all
    # (new), later polls find nothing new. 36 working hours later one alert; none after.
    clock = Clock(datetime(2024, 3, 14, 9, 0, tzinfo=UTC))
    svc = make_service(tmp_path, api, smtp, clock, extra="    expect_new_within: 36h\n")
    first = pipeline.poll(svc, "wq", since=SINCE)
    assert first.error is None
    assert first.fetched > 0
    state = svc.store.source_state("wq")
    assert state.items_new == first.fetched
    assert state.last_new_at == clock.now
    while clock.now < datetime(2024, 3, 20, 9, 0, tzinfo=UTC):
        clock.now += timedelta(hours=3)
        pipeline.poll(svc, "wq", since=SINCE)
        operators.notify(svc)
    [alert] = smtp.messages
    assert (
        alert["Subject"]
        .strip()
        .startswith(
            "[watcher] source wq silent (nothing new) since 2024-03-14 09:00 GMT: nothing new for"
        )
    )
    # Thursday 15 h and Friday 21 h make 36, not more: the next poll, at midnight, is past it.
    assert "nothing new for 39h of working time" in alert["Subject"]
    state = svc.store.source_state("wq")
    assert state.items_new == 0
    assert state.items_listed == first.listed
    assert set(state.incidents) == {Kind.SILENT}
    assert len(files(tmp_path)) == 1
    service.close(svc)


def test_status_prints_every_sources_health_as_a_table(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    extra = """\
    failure_threshold: 1
  - id: dfe
    kind: feed
    url: http://127.0.0.1:9/never-polled.atom
"""
    path = tmp_path / "watcher.yaml"
    path.write_text(config_text(tmp_path, api, smtp.port, extra))
    assert watcher(path, "run", "--once", "--since", "2024-01-08").returncode == 1  # dfe fails

    api.fail(times=1000, status=503)
    clock = Clock(datetime.now(UTC))
    svc = make_service(tmp_path, api, smtp, clock, extra)
    pipeline.poll(svc, "wq", since=SINCE)
    service.close(svc)

    status = watcher(path, "status")
    assert status.returncode == 1
    lines = status.stdout.splitlines()
    assert lines[0] == "sources (times in Europe/London):"
    header = lines[1].split()
    assert header[:3] == ["source", "kind", "health"]
    assert "listed/new" in header
    wq = next(line.split() for line in lines if line.strip().startswith("wq "))
    assert wq[1:3] == ["parliament_written_questions", "failing"]
    assert "failing since" in " ".join(wq)
    dfe = next(line for line in lines if line.strip().startswith("dfe "))
    assert "feed" in dfe
    assert any(line.startswith("source wq failing (1 in a row): ") for line in lines)
    assert "503" in status.stdout


def test_a_notice_hides_passwords_and_stays_one_line() -> None:
    detail = "3 failed polls in a row: GET https://bot:s3cret@feeds.example/x\r\nfailed: HTTP 500"
    at = datetime(2024, 1, 15, 10, 2, tzinfo=UTC)
    n = Notice("feed", Kind.FAILING, True, at, at, detail)
    message = notice_message(n, "ops", ZoneInfo("Europe/London"))
    for part in (message.subject, message.text, message.html):
        assert "s3cret" not in part
    assert "bot:***@feeds.example" in message.text
    assert message.subject == "[watcher] source feed failing since 2024-01-15 10:02 GMT: HTTP 500"
    assert "\n" not in message.subject
    assert message.headers["Message-ID"] == (
        "<watcher-notice.feed.failing.opened.20240115T100200Z.ops@watcher>"
    )
