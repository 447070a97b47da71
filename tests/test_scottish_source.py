"""The Scottish Parliament questions source against a local server serving the yearly download
(``watcher.testing.fakescottish``): golden records, written questions only, answers found by
diffing re-read files, 304s, the previous year in January, the size limit, unreadable items,
and ``watcher run --once`` end to end. Polls run through the pipeline with an SQLite store and
a clock the test sets.

``WATCHER_UPDATE_GOLDEN=1`` rewrites ``tests/data/scottish/*.records.json``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from watcher import pipeline, service
from watcher.config import ScottishQuestionsSourceConfig, parse
from watcher.kinds.devolved import SCOTTISH_PARLIAMENT_LICENCE
from watcher.model import EventType, Status, record_to_dict
from watcher.pipeline import Service
from watcher.sources.scottish import ScottishParliamentQuestions, parse_year, years_to_read
from watcher.testing.cli import watcher
from watcher.testing.fakescottish import ScottishDataServer, load_year

GOLDEN = Path(__file__).parent / "data" / "scottish"
MID_JANUARY = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
IN_WINDOW = {"S6W-24101", "S6W-24102", "S6W-24103", "S6W-23950"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[ScottishDataServer]:
    with ScottishDataServer.with_fixtures() as s:
        yield s


def make_service(tmp_path: Path, base_url: str, clock: Clock, **extra: str) -> Service:
    settings = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
sources:
  - id: holyrood
    kind: scottish_parliament_questions
    base_url: {base_url}
    retries: 0
    timeout: 2s{settings}
rules:
  - id: asl
    query: '"additional support for learning" OR "SEND workforce" OR bus'
    events: [tabled, answered, corrected]
subscriptions:
  - id: schools
    rules: [asl]
""",
        "test.yaml",
        {},
    )
    return service.build(config, clock=clock)


def item(year: int, ref: str) -> dict[str, Any]:
    return copy.deepcopy(next(v for v in load_year(year) if v["EventID"] == ref))


# --- golden records --------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2023, 2024])
def test_each_years_fixtures_become_the_golden_records(year: int) -> None:
    records, problems = parse_year(load_year(year), "holyrood")
    assert problems == []
    got = [record_to_dict(r) for r in records]
    golden = GOLDEN / f"{year}.records.json"
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_only_written_questions_are_kept_and_the_answer_keeps_its_paragraphs() -> None:
    records, _ = parse_year(load_year(2024), "holyrood")
    assert [r.key for r in records] == ["S6W-24101", "S6W-24102", "S6W-24103", "S6W-23001"]
    answer = records[0].texts["answer"]
    assert answer.html.count("<p>") == 3
    assert "additional support for learning" in answer.plain
    assert records[0].facets["house"] == ("Scottish Parliament",)
    assert records[1].body is not None
    assert records[1].body.status is Status.TABLED
    assert "answer" not in records[1].texts
    # No Title: the question's words, cut at a word boundary.
    assert records[2].title.startswith("To ask the Scottish Government, further to the answer")
    assert records[2].title.endswith("…")
    assert len(records[2].title) <= 120


# --- the listing ------------------------------------------------------------------------------


def test_years_to_read_include_the_previous_year_early_in_a_year() -> None:
    assert years_to_read(date(2024, 1, 12), date(2024, 1, 15), 60) == [2023, 2024]
    assert years_to_read(date(2024, 6, 12), date(2024, 6, 15), 60) == [2024]
    assert years_to_read(date(2023, 12, 29), date(2024, 1, 2), 0) == [2023, 2024]
    # A catch-up from early January reads December's file too, whatever today is.
    assert years_to_read(date(2024, 1, 8), date(2026, 6, 1), 60) == [2023, 2024, 2025, 2026]


def test_the_listing_is_the_windows_written_questions_each_whole(
    server: ScottishDataServer,
) -> None:
    config = ScottishQuestionsSourceConfig(
        id="holyrood", kind="scottish_parliament_questions", base_url=server.base_url
    )
    source = ScottishParliamentQuestions(config, "tests")
    try:
        listing = source.list(date(2024, 1, 12), date(2024, 1, 15))
    finally:
        source.close()
    assert listing.error is None
    assert {e.key for e in listing.entries} == IN_WINDOW
    assert all(
        e.record is not None and e.fingerprint == e.record.fingerprint for e in listing.entries
    )
    assert server.answers == [(2023, 200), (2024, 200)]
    assert listing.cursor is not None
    assert set(listing.cursor) >= {"2023.etag", "2024.etag"}


# --- polling through the pipeline ------------------------------------------------------------


def test_a_new_answer_is_an_answered_event_and_an_unchanged_file_is_a_304(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    clock = Clock(MID_JANUARY)
    svc = make_service(tmp_path, server.base_url, clock)
    first = pipeline.poll(svc, "holyrood")
    assert (first.error, first.listed, first.events) == (None, 4, 4)  # three answers, one tabled

    clock.now += timedelta(hours=1)
    again = pipeline.poll(svc, "holyrood")
    assert (again.error, again.listed, again.events) == (None, 0, 0)
    assert server.answers[-2:] == [(2023, 304), (2024, 304)]

    # The bus question is answered; an oral question is added: the file changes, one event.
    items = load_year(2024)
    buses = next(v for v in items if v["EventID"] == "S6W-24102")
    buses.update(
        AnswerText="Operators withdrew 41 rural routes in 2023.\r\nMost were replaced.",
        AnswerDate="2024-01-16T00:00:00",
        AnsweredByMSP="Ruaridh Innes",
        OnBehalfOf="Scottish Government",
    )
    oral = item(2024, "S6O-03001") | {"EventID": "S6O-03002", "UniqueID": 390106}
    server.publish(2024, [*items, oral])
    clock.now = datetime(2024, 1, 16, 12, 0, tzinfo=UTC)
    answered = pipeline.poll(svc, "holyrood")
    assert answered.error is None
    assert answered.events == 1
    assert server.answers[-1] == (2024, 200)
    [record] = svc.store.current("holyrood", ["S6W-24102"]).values()
    assert record.body is not None
    assert record.body.status is Status.ANSWERED
    assert record.body.date_answered == date(2024, 1, 16)
    owed = svc.store.pending("schools", before=datetime.max.replace(tzinfo=UTC))
    buses_events = [p.event for p in owed if p.event.record.key == "S6W-24102"]
    assert [e.type for e in buses_events] == [EventType.TABLED, EventType.ANSWERED]
    assert buses_events[1].previous is not None

    # The same answers in a re-written file (a new ETag): read, and no event.
    server.publish(2024, [oral, *items])
    clock.now += timedelta(hours=1)
    reread = pipeline.poll(svc, "holyrood")
    assert server.answers[-1] == (2024, 200)
    assert (reread.error, reread.events) == (None, 0)
    service.close(svc)


def test_the_previous_years_file_is_read_in_january_only(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    clock = Clock(MID_JANUARY)
    svc = make_service(tmp_path, server.base_url, clock)
    report = pipeline.poll(svc, "holyrood")
    assert {y for y, _ in server.answers} == {2023, 2024}
    assert "S6W-23950" in svc.store.current("holyrood", ["S6W-23950"])
    assert report.events == 4

    server.answers.clear()
    clock.now = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
    pipeline.poll(svc, "holyrood")
    assert {y for y, _ in server.answers} == {2024}
    service.close(svc)


def test_an_oversized_download_is_refused_and_recorded_on_the_source(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    svc = make_service(tmp_path, server.base_url, Clock(MID_JANUARY), max_bytes="2048")
    report = pipeline.poll(svc, "holyrood")
    assert report.error is not None
    assert "larger than the 2 KB limit" in report.error
    # December's small file was read first and is kept; January's, refused, lists nothing.
    assert report.listed == 1
    assert set(svc.store.current("holyrood", sorted(IN_WINDOW))) == {"S6W-23950"}
    state = svc.store.source_state("holyrood")
    assert state.last_error is not None
    assert "larger than" in state.last_error
    assert state.error_count == 1
    service.close(svc)


def test_an_unreadable_question_is_named_and_the_others_are_kept(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    items = load_year(2024)
    items[2]["AnswerDate"] = "the twelfth"
    server.publish(2024, items)
    clock = Clock(MID_JANUARY)
    svc = make_service(tmp_path, server.base_url, clock)
    report = pipeline.poll(svc, "holyrood")
    assert report.error is not None
    assert "S6W-24103" in report.error
    assert "AnswerDate" in report.error
    assert report.events == 3
    # The cursor did not move: the file is read again, not answered with a 304.
    clock.now += timedelta(hours=1)
    pipeline.poll(svc, "holyrood")
    assert server.answers[-1] == (2024, 200)
    service.close(svc)


def test_a_file_that_is_not_an_array_is_an_error_that_loses_nothing(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    clock = Clock(MID_JANUARY)
    svc = make_service(tmp_path, server.base_url, clock)
    pipeline.poll(svc, "holyrood")
    server.publish(2024, b'{"message": "An error has occurred."}')
    clock.now += timedelta(hours=1)
    report = pipeline.poll(svc, "holyrood")
    assert report.error is not None
    assert "JSON array" in report.error
    assert len(svc.store.current("holyrood", sorted(IN_WINDOW))) == 4
    service.close(svc)


# --- end to end ------------------------------------------------------------------------------


def test_run_once_delivers_one_digest_to_the_files_channel_and_a_rerun_nothing(
    tmp_path: Path, server: ScottishDataServer
) -> None:
    config = tmp_path / "watcher.yaml"
    config.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: holyrood
    kind: scottish_parliament_questions
    base_url: {server.base_url}
    retries: 0
    timeout: 5s
rules:
  - id: asl
    query: '"additional support for learning"'
subscriptions:
  - rules: [asl]
    digest: immediate
""")
    first = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "data" / "outbox"
    [sent] = list(outbox.glob("*.eml"))
    message = message_from_bytes(sent.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Additional Support for Learning]] Staff" in text  # the heading, marked
    assert "question?ref=S6W-24101" in text
    assert SCOTTISH_PARLIAMENT_LICENCE in " ".join(text.split())
    assert "S6O-03001" not in text  # the oral question says it too
    assert "question?ref=S6W-23950" in text  # lodged in December, in 2023's file

    again = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert again.returncode == 0, again.stderr
    assert list(outbox.glob("*.eml")) == [sent]
    assert (2024, 304) in server.answers
