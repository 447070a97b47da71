"""An answer edited past what the listing shows, with no correction flag, is found by the
daily re-check of recent answers (``ParliamentWrittenQuestions._recheck``), and only then:
an unchanged re-poll otherwise still makes list requests only.

Real parts: the local fake API, an SQLite store, the files channel, a clock the test moves."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher import pipeline, service
from watcher.config import parse
from watcher.model import EventType
from watcher.pipeline import Service
from watcher.testing.fakeapi import LIST_PATH, FakeParliamentAPI

SEED_UIN = "8602"
FIRST = datetime(2024, 1, 16, 9, 0, tzinfo=UTC)  # the seed was answered on 15 January


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api() -> Iterator[FakeParliamentAPI]:
    with FakeParliamentAPI.with_fixtures() as server:
        yield server


def build(tmp_path: Path, api: FakeParliamentAPI, clock: Clock, recheck_days: int = 7) -> Service:
    config = parse(
        f"""
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
    recheck_days: {recheck_days}
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - id: policy
    rules: [send-workforce]
""",
        "test.yaml",
        {},
    )
    return service.build(config, clock=clock)


def details(api: FakeParliamentAPI) -> list[str]:
    return [path for path, _ in api.requests if path.rstrip("/") != LIST_PATH]


def edit_silently(api: FakeParliamentAPI) -> None:
    """Change the seed's answer near its end: the listing (255 characters, no flag) is the
    same as before, only the detail shows it."""
    value = copy.deepcopy(next(q for q in api.questions.values() if q["uin"] == SEED_UIN))
    text: str = value["answerText"]
    assert len(text) > 600
    value["answerText"] = text[:-40] + " The plan will be published in the spring." + text[-40:]
    api.replace(value)


def test_a_silent_edit_past_the_listing_is_found_by_the_daily_recheck(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    clock = Clock(FIRST)
    svc = build(tmp_path, api, clock)
    assert pipeline.poll(svc, "wq").error is None
    edit_silently(api)

    api.clear_requests()
    clock.now = FIRST + timedelta(hours=6)
    report = pipeline.poll(svc, "wq")
    assert (report.error, report.events) == (None, 0)
    assert details(api) == []  # not due: list requests only

    api.clear_requests()
    clock.now = FIRST + timedelta(hours=24)
    report = pipeline.poll(svc, "wq")
    assert report.error is None
    assert details(api), "the re-check reads recent answers' details"
    events = svc.store.pending("policy", before=clock.now + timedelta(seconds=1))
    corrected = [p.event for p in events if p.event.type is EventType.CORRECTED]
    assert [e.record.facet("uin") for e in corrected] == [SEED_UIN]
    assert corrected[0].previous is not None

    api.clear_requests()
    clock.now = FIRST + timedelta(hours=30)
    assert pipeline.poll(svc, "wq").events == 0
    assert details(api) == []  # once a day
    svc.store.close()


def test_a_recheck_that_finds_nothing_changed_alerts_nobody(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    clock = Clock(FIRST)
    svc = build(tmp_path, api, clock)
    first = pipeline.poll(svc, "wq")
    clock.now = FIRST + timedelta(days=1, minutes=1)
    api.clear_requests()
    again = pipeline.poll(svc, "wq")
    assert details(api)
    assert (first.error, again.error, again.events) == (None, None, 0)
    svc.store.close()


def test_recheck_days_zero_turns_it_off(tmp_path: Path, api: FakeParliamentAPI) -> None:
    clock = Clock(FIRST)
    svc = build(tmp_path, api, clock, recheck_days=0)
    pipeline.poll(svc, "wq")
    edit_silently(api)
    clock.now = FIRST + timedelta(days=2)
    api.clear_requests()
    assert pipeline.poll(svc, "wq").events == 0
    assert details(api) == []
    svc.store.close()
