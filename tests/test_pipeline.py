"""The pipeline with real parts in-process (local API server, SQLite store, .eml files channel)
and a clock the test moves, for what depends on time: digest periods and retries."""

from __future__ import annotations

import copy
import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from watcher import pipeline, sending, service
from watcher.config import parse
from watcher.kinds.questions import question_of
from watcher.model import EventType
from watcher.pipeline import Service
from watcher.testing.fakeapi import FakeParliamentAPI

SINCE = date(2024, 1, 8)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_service(
    tmp_path: Path,
    api: FakeParliamentAPI,
    clock: Clock,
    digest: str = "immediate",
    rules: str | None = None,
    page_size: int = 100,
) -> Service:
    rules = (
        rules
        or """
  - id: send-workforce
    query: '"SEND workforce"'
  - id: coalition
    query: '"SEND in the Specialists"'
    events: [answered, corrected, holding]
"""
    )
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
sources:
  - id: wq
    kind: parliament_written_questions
    base_url: {api.base_url}
    page_size: {page_size}
    retries: 0
    backoff: 1ms
    timeout: 2s
    max_per_second: 20
rules:{rules}
subscriptions:
  - id: policy
    rules: [send-workforce, coalition]
    digest: {digest}
""",
        "test.yaml",
        {},
    )
    return service.build(config, clock=clock)


def outbox(tmp_path: Path) -> list[EmailMessage]:
    files = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    return [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for f in files
    ]


def seed(api: FakeParliamentAPI) -> dict[str, Any]:
    return next(q for q in api.questions.values() if q["uin"] == "8602")


def test_item_matching_two_rules_appears_once_naming_both(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    clock = Clock(datetime(2024, 1, 15, 18, 0, tzinfo=UTC))
    svc = make_service(tmp_path, api, clock)
    report = pipeline.poll(svc, "wq", since=SINCE)
    assert report.error is None
    assert report.ledger == 1  # one (subscription, event) row although two rules matched
    clock.now += timedelta(minutes=1)
    [sent] = sending.send_due(svc)
    assert sent.error is None
    assert sent.items == 1
    [message] = outbox(tmp_path)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "send-workforce" in text
    assert "coalition" in text
    assert text.count("Special Educational Needs") >= 1
    service.close(svc)


def test_daily_digest_waits_for_its_time_and_then_sends_once(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    # 10:00 London time in winter = 10:00 UTC
    clock = Clock(datetime(2024, 1, 15, 10, 0, tzinfo=UTC))
    svc = make_service(tmp_path, api, clock, digest="daily 07:30")
    pipeline.poll(svc, "wq", since=SINCE)
    clock.now = datetime(2024, 1, 15, 23, 59, tzinfo=UTC)
    assert sending.send_due(svc) == []  # matched after today's 07:30: waits for tomorrow
    assert outbox(tmp_path) == []
    clock.now = datetime(2024, 1, 16, 7, 31, tzinfo=UTC)
    [sent] = sending.send_due(svc)
    assert sent.error is None
    assert len(outbox(tmp_path)) == 1
    clock.now += timedelta(hours=1)
    assert sending.send_due(svc) == []
    service.close(svc)


def test_holding_then_substantive_answer_is_flagged_as_replacing_it(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    clock = Clock(datetime(2024, 1, 15, 18, 0, tzinfo=UTC))
    question = seed(api)
    holding = copy.deepcopy(question)
    holding.update(
        answerIsHolding=True,
        dateHoldingAnswer="2024-01-15T00:00:00",
        answerText="<p>I will reply to the hon. Member as soon as possible.</p>",
    )
    api.replace(holding)
    svc = make_service(tmp_path, api, clock)
    pipeline.poll(svc, "wq", since=SINCE)
    stored = svc.store.current("wq", [str(question["id"])])
    assert question_of(stored[str(question["id"])]).status.value == "holding"

    api.replace(question)
    clock.now += timedelta(hours=1)
    pipeline.poll(svc, "wq", since=SINCE)
    items = svc.store.pending("policy", before=clock.now + timedelta(seconds=1))
    answered = [
        i.event
        for i in items
        if i.event.record.key == str(question["id"]) and i.event.type is EventType.ANSWERED
    ]
    assert len(answered) == 1
    assert answered[0].replaces_holding
    service.close(svc)


def test_a_listing_that_fails_part_way_keeps_earlier_pages_and_catches_up(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    clock = Clock(datetime(2024, 1, 15, 18, 0, tzinfo=UTC))
    svc = make_service(tmp_path, api, clock, page_size=3)
    api.fail(times=1, status=500, after=1)  # the second request fails
    first = pipeline.poll(svc, "wq", since=SINCE)
    assert first.error is not None
    assert first.fetched == 3  # the first page's questions were fetched and kept
    state = svc.store.source_state("wq")
    assert state.last_error
    assert state.error_count == 1

    second = pipeline.poll(svc, "wq", since=SINCE)
    assert second.error is None
    assert second.fetched == second.listed - 3  # only what the first poll did not bring
    assert svc.store.source_state("wq").last_error is None
    service.close(svc)


def test_window_reaches_back_to_the_last_good_poll() -> None:
    today = date(2024, 1, 20)
    assert pipeline.window(today, 3, None) == (date(2024, 1, 17), today)
    assert pipeline.window(today, 3, date(2024, 1, 10)) == (date(2024, 1, 7), today)
    assert pipeline.window(today, 3, date(2023, 1, 1)) == (today - pipeline.MAX_CATCHUP, today)
    assert pipeline.window(today, 3, None, since=date(2023, 6, 1)) == (date(2023, 6, 1), today)
