"""``watcher backfill``: history stored without alerting anyone, against the fake API.

What a user relies on: a backfill sends nothing; a later poll stays silent about backfilled
items that did not change and alerts for those that did (a correction); a failed chunk says
where to resume, and resuming does not fetch again what was already stored.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from watcher import backtest, pipeline, service
from watcher.config import load
from watcher.kinds.questions import question_of
from watcher.match import parse
from watcher.model import Status
from watcher.store import open_store
from watcher.store import schema as tables
from watcher.store.engine import store_engine
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI

SEED_ID = "1683412"  # answered 2024-01-15; "SEND workforce" is in its answer
LATE_ID = "1690001"  # tabled 2024-01-12
LORDS_ID = "1690002"  # a holding answer; "SEND workforce" is in its question


def write_config(tmp_path: Path, api: FakeParliamentAPI) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
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
    windows: [tabled]  # every fixture is tabled in January 2024; fewer requests, faster tests
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - rules: [send-workforce]
    digest: immediate
""")
    return path


def outbox(tmp_path: Path) -> list[str]:
    """The plain-text body of each message written to the files channel's outbox."""
    texts = []
    for path in sorted((tmp_path / "data" / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))  # type: ignore[attr-defined]
        assert body is not None
        texts.append(body.get_content())
    return texts


def rows(tmp_path: Path, table: str) -> int:
    engine = store_engine(f"sqlite:///{tmp_path}/w.db")
    try:
        with engine.connect() as conn:
            count = select(func.count()).select_from(tables.metadata.tables[table])
            return int(conn.execute(count).scalar_one())
    finally:
        engine.dispose()


def correct_seed(api: FakeParliamentAPI) -> None:
    api.correct(
        "8602",
        "a steering group has now been established",
        "a cross-government steering group was established in 2023",
        on=date(2024, 1, 22),
    )


def test_backfill_sends_nothing_and_later_polls_alert_only_for_changes(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    config = write_config(tmp_path, api)

    filled = watcher(config, "backfill", "--since", "2024-01-01", "--until", "2024-01-31")
    assert filled.returncode == 0, filled.stderr
    # Five chunks of at most seven days; progress on stderr, which is not a terminal here.
    assert "event=backfill_progress done=1 total=5" in filled.stderr
    assert "event=backfill_progress done=5 total=5" in filled.stderr
    assert "backfill wq 2024-01-01..2024-01-31: listed" in filled.stdout
    assert outbox(tmp_path) == []
    assert rows(tmp_path, "record") == len(api.questions)
    assert (rows(tmp_path, "event"), rows(tmp_path, "ledger")) == (0, 0)
    store = open_store(f"sqlite:///{tmp_path}/w.db")
    try:
        # A backfill is not a poll: the source's polling state is untouched.
        assert store.source_state("wq").last_poll is None
        # The backfilled history is what test-rule searches.
        found = backtest.search(store, parse('"SEND workforce"'))
        assert {c.key for c in found.matched} == {SEED_ID, LORDS_ID}
    finally:
        store.close()

    quiet = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert quiet.returncode == 0, quiet.stderr
    assert "new events 0" in quiet.stdout
    assert outbox(tmp_path) == []

    correct_seed(api)
    loud = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert loud.returncode == 0, loud.stderr
    [text] = outbox(tmp_path)
    assert "a cross-government steering group was established in 2023" in text
    assert "a steering group has now been established" in text  # the old text, shown too


def test_a_failed_chunk_exits_1_with_where_to_resume_and_resuming_skips_what_is_stored(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    config = write_config(tmp_path, api)
    api.fail(times=100, status=503, target="WhenFrom=2024-01-08")  # the second chunk

    failed = watcher(config, "backfill", "--since", "2024-01-01", "--until", "2024-01-20")
    assert failed.returncode == 1
    assert "FAILED at 2024-01-08..2024-01-14" in failed.stdout
    resume = "watcher backfill --since 2024-01-08 --until 2024-01-20 --source wq"
    assert f"resume with: {resume}" in failed.stdout
    assert "event=backfill_progress done=2 total=3" in failed.stderr
    assert "done=3" not in failed.stderr  # it stopped at the failed chunk
    first_chunk = rows(tmp_path, "record")
    assert first_chunk > 0
    store = open_store(f"sqlite:///{tmp_path}/w.db")
    assert store.current("wq", [LATE_ID]) == {}  # tabled in the failed chunk
    store.close()

    api.clear_faults()
    api.clear_requests()
    resumed = watcher(config, *resume.split()[1:])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    details = [path for path, _ in api.requests if not path.endswith("/questions")]
    # Only the questions the first run did not store were fetched in full.
    assert len(details) == rows(tmp_path, "record") - first_chunk
    assert rows(tmp_path, "record") == len(api.questions)
    assert outbox(tmp_path) == []


def test_a_change_to_a_stored_item_is_left_for_polling_to_alert_on(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    now = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    svc = service.build(load(write_config(tmp_path, api)), clock=lambda: now)
    try:
        assert pipeline.poll(svc, "wq", since=date(2024, 1, 8)).ledger == 1
        before = svc.store.current("wq", [SEED_ID])[SEED_ID]

        correct_seed(api)
        reports = pipeline.backfill(svc, "wq", date(2024, 1, 8), date(2024, 1, 21))
        assert [r.error for r in reports] == [None, None]
        assert {key for r in reports for key in r.left} == {SEED_ID}
        assert svc.store.current("wq", [SEED_ID])[SEED_ID] == before  # not swallowed

        after = pipeline.poll(svc, "wq", since=date(2024, 1, 8))
        assert (after.events, after.ledger) == (1, 1)
        assert question_of(svc.store.current("wq", [SEED_ID])[SEED_ID]).is_correction
    finally:
        service.close(svc)


def test_backfill_reports_each_chunk_to_its_progress_callback(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    svc = service.build(load(write_config(tmp_path, api)))
    seen: list[pipeline.BackfillReport] = []
    try:
        reports = pipeline.backfill(
            svc, "wq", date(2024, 1, 1), date(2024, 1, 10), days=5, progress=seen.append
        )
        assert seen == reports
        assert [(r.start, r.end) for r in reports] == [
            (date(2024, 1, 1), date(2024, 1, 5)),
            (date(2024, 1, 6), date(2024, 1, 10)),
        ]
        assert sum(r.stored for r in reports) == sum(r.fetched for r in reports) > 0
        stored = svc.store.current("wq", [SEED_ID])
        assert question_of(stored[SEED_ID]).status is Status.ANSWERED
    finally:
        service.close(svc)


def test_chunks_cover_the_range_once_oldest_first() -> None:
    chunks = pipeline.backfill_chunks(date(2024, 1, 1), date(2024, 1, 31))
    assert chunks[0] == (date(2024, 1, 1), date(2024, 1, 7))
    assert chunks[-1] == (date(2024, 1, 29), date(2024, 1, 31))
    assert len(chunks) == 5
    assert all(b[0] - a[1] == timedelta(days=1) for a, b in itertools.pairwise(chunks))
    assert pipeline.backfill_chunks(date(2024, 1, 1), date(2024, 1, 1)) == [
        (date(2024, 1, 1), date(2024, 1, 1))
    ]
    assert pipeline.backfill_chunks(date(2024, 1, 2), date(2024, 1, 1)) == []
