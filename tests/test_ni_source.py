"""The NI Assembly questions source against a local AIMS server (``watcher.testing.fakeni``):
golden records, the envelope's list / single object / nothing, answers fetched from the details
when the range listing lacks them, re-polls that fetch nothing, and ``watcher run --once``.

``WATCHER_UPDATE_GOLDEN=1`` rewrites ``tests/data/ni/questions.records.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from watcher import pipeline, service
from watcher.config import NiQuestionsSourceConfig, parse
from watcher.errors import ParseError
from watcher.kinds.devolved import NI_ASSEMBLY_LICENCE
from watcher.model import ListEntry, record_to_dict
from watcher.sources.ni import DETAIL_PATH, RANGE_PATH, NiAssemblyQuestions, questions_of
from watcher.sources.ni import parse_question as parse_ni
from watcher.testing.cli import watcher
from watcher.testing.fakeni import NiAssemblyServer, load_questions

GOLDEN = Path(__file__).parent / "data" / "ni" / "questions.records.json"
MID_JANUARY = (date(2024, 1, 12), date(2024, 1, 16))


@pytest.fixture
def server() -> Iterator[NiAssemblyServer]:
    with NiAssemblyServer.with_fixtures() as s:
        yield s


def source(base_url: str) -> NiAssemblyQuestions:
    config = NiQuestionsSourceConfig(
        id="stormont", kind="ni_assembly_questions", base_url=base_url, retries=0
    )
    return NiAssemblyQuestions(config, "tests")


def paths(server: NiAssemblyServer) -> list[str]:
    return [p.split("?")[0] for p, _ in server.requests]


def test_fixtures_parse_to_the_golden_records() -> None:
    got = [record_to_dict(parse_ni(v, "stormont")) for v in load_questions()]
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_the_answer_html_is_sanitised_and_an_empty_one_falls_back_to_plain_text() -> None:
    first, second, _ = (parse_ni(v, "stormont") for v in load_questions())
    assert "<script>" not in first.texts["answer"].html
    assert "SEND workforce" in first.texts["answer"].plain
    assert second.texts["answer"].plain == (
        "Waiting list figures are published quarterly by the Department."
    )
    assert first.facets["house"] == ("Northern Ireland Assembly",)
    assert first.facets["department"] == ("Department of Education", "75")
    assert first.facets["uin"] == ("AQW 5101/22-27",)


@pytest.mark.parametrize(
    ("body", "keys"),
    [
        ({"QuestionsList": {"Question": [{"DocumentId": 1}, {"DocumentId": "2"}]}}, [1, "2"]),
        ({"QuestionsList": {"Question": {"DocumentId": "7"}}}, ["7"]),
        ({"QuestionsList": None}, []),
        ({"QuestionsList": {}}, []),
        ({"QuestionsList": {"Question": []}}, []),
        ({"QuestionsList": ""}, []),
    ],
)
def test_the_envelope_holds_a_list_a_single_object_or_nothing(body: Any, keys: list[Any]) -> None:
    assert [v["DocumentId"] for v in questions_of(body, "x")] == keys


@pytest.mark.parametrize(
    "body",
    [[], {"Questions": []}, {"QuestionsList": {"Question": "AQW"}}, {"QuestionsList": [1]}],
)
def test_an_envelope_of_another_shape_is_a_parse_error(body: Any) -> None:
    with pytest.raises(ParseError):
        questions_of(body, "x")


def test_the_listing_lacks_answers_so_each_is_fetched_from_its_details(
    server: NiAssemblyServer,
) -> None:
    src = source(server.base_url)
    try:
        listing = src.list(*MID_JANUARY)
        assert listing.error is None
        assert sorted(e.key for e in listing.entries) == ["412001", "412002"]
        assert all(e.record is None for e in listing.entries)
        fetched = src.fetch(listing.entries)
    finally:
        src.close()
    assert fetched.errors == ()
    assert sorted(r.key for r, _ in fetched.records) == ["412001", "412002"]
    assert all("answer" in r.texts for r, _ in fetched.records)
    assert paths(server).count(DETAIL_PATH) == 2
    range_query = next(p for p, _ in server.requests if p.startswith(RANGE_PATH))
    assert "startDate=2024-01-12" in range_query
    assert "endDate=2024-01-16" in range_query


def test_a_single_result_arrives_as_an_object_and_is_read(server: NiAssemblyServer) -> None:
    raw = httpx.get(
        server.url(RANGE_PATH), params={"startDate": "2024-01-15", "endDate": "2024-01-15"}
    ).json()
    assert isinstance(raw["QuestionsList"]["Question"], dict)
    src = source(server.base_url)
    try:
        listing = src.list(date(2024, 1, 15), date(2024, 1, 15))
        none = src.list(date(2023, 6, 1), date(2023, 6, 2))
    finally:
        src.close()
    assert [e.key for e in listing.entries] == ["412001"]
    assert (none.error, none.entries) == (None, ())


def test_answers_in_the_listing_are_taken_whole_with_nothing_fetched() -> None:
    with NiAssemblyServer.with_fixtures(answers_in_list=True) as server:
        src = source(server.base_url)
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        assert DETAIL_PATH not in paths(server)
    assert all(e.record is not None for e in listing.entries)


def test_a_poll_makes_answered_events_and_a_repoll_fetches_nothing(
    tmp_path: Path, server: NiAssemblyServer
) -> None:
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
sources:
  - {{id: stormont, kind: ni_assembly_questions, base_url: "{server.base_url}", retries: 0,
     lookback_days: 4}}
rules:
  - {{id: all, query: 'minister OR department'}}
subscriptions:
  - {{id: s, rules: [all]}}
""",
        "test.yaml",
        {},
    )
    now = datetime(2024, 1, 16, 12, 0, tzinfo=UTC)
    svc = service.build(config, clock=lambda: now)
    try:
        first = pipeline.poll(svc, "stormont")
        assert (first.error, first.listed, first.events) == (None, 2, 2)
        server.requests.clear()
        again = pipeline.poll(svc, "stormont")
        assert (again.error, again.listed, again.events) == (None, 2, 0)
        assert DETAIL_PATH not in paths(server)
    finally:
        service.close(svc)


def test_a_question_without_details_is_that_items_error_and_the_others_are_kept(
    server: NiAssemblyServer,
) -> None:
    src = source(server.base_url)
    try:
        entries = [*src.list(*MID_JANUARY).entries, ListEntry("555", "x")]
        fetched = src.fetch(entries)
    finally:
        src.close()
    assert sorted(r.key for r, _ in fetched.records) == ["412001", "412002"]
    [(key, error)] = fetched.errors
    assert key == "555"
    assert isinstance(error, ParseError)
    assert "expected one question, got 0" in str(error)


def test_run_once_delivers_one_digest_to_the_files_channel_and_a_rerun_nothing(
    tmp_path: Path, server: NiAssemblyServer
) -> None:
    config = tmp_path / "watcher.yaml"
    config.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: stormont
    kind: ni_assembly_questions
    base_url: {server.base_url}
    retries: 0
    timeout: 5s
rules:
  - id: send
    query: '"SEND workforce"'
subscriptions:
  - rules: [send]
    digest: immediate
""")
    first = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "data" / "outbox"
    [sent] = list(outbox.glob("*.eml"))
    message = message_from_bytes(sent.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert "AQW 5101/22-27" in text
    assert "docid=412001" in text
    assert NI_ASSEMBLY_LICENCE in text
    server.requests.clear()
    again = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert again.returncode == 0, again.stderr
    assert list(outbox.glob("*.eml")) == [sent]
    assert DETAIL_PATH not in paths(server)
