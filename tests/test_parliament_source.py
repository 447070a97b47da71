"""The Parliament source against the fake API over a real socket, and parse_question on its own."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from watcher.config import ParliamentSourceConfig
from watcher.errors import FetchError, ParseError
from watcher.kinds.questions import question_of
from watcher.model import Attachment, GroupedQuestion, Person, Status, fingerprint_of
from watcher.sources import SOURCES, open_source
from watcher.sources.base import ListEntry
from watcher.sources.parliament import ParliamentWrittenQuestions, parse_question
from watcher.testing import FakeParliamentAPI, load_fixtures

UA = "watcher-tests/1"
SEED = 1683412
VERB = 1690001
LORDS = 1690002
RECORDED = 1679416
LIST = "/api/writtenquestions/questions"
MID_JANUARY = (date(2024, 1, 12), date(2024, 1, 15))


def fixture(qid: int) -> dict[str, Any]:
    return copy.deepcopy(next(v for v in load_fixtures() if v["id"] == qid))


def question(qid: int, **changes: Any) -> dict[str, Any]:
    """A detail value shaped like the seed question, with a new id and UIN."""
    value = fixture(SEED)
    value.update(id=qid, uin=str(qid), **changes)
    return value


def config(base_url: str, **overrides: Any) -> ParliamentSourceConfig:
    settings: dict[str, Any] = {
        "id": "wq",
        "kind": "parliament_written_questions",
        "base_url": base_url,
        "timeout": "2s",
        "backoff": "10ms",
        "retries": 1,
        "max_per_second": 20,
    }
    settings.update(overrides)
    return ParliamentSourceConfig(**settings)


@pytest.fixture
def source(api: FakeParliamentAPI) -> Iterator[ParliamentWrittenQuestions]:
    s = ParliamentWrittenQuestions(config(api.base_url), UA)
    yield s
    s.close()


def list_requests(api: FakeParliamentAPI) -> list[dict[str, str]]:
    return [query for path, query in api.requests if path == LIST]


# --- list ----------------------------------------------------------------------------------


def test_pages_until_total_results_with_a_small_page_size() -> None:
    values = [question(2_000_000 + n, dateAnswered="2024-01-14T00:00:00") for n in range(23)]
    with FakeParliamentAPI(values) as api:
        src = ParliamentWrittenQuestions(
            config(api.base_url, page_size=7, windows=["answered"], houses=["Commons"]), UA
        )
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        requests = list_requests(api)
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == sorted(str(v["id"]) for v in values)
    assert [q["skip"] for q in requests] == ["0", "7", "14", "21"]
    assert {q["take"] for q in requests} == {"7"}


def test_every_window_and_house_is_listed_with_members_and_withdrawn(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    listing = source.list(*MID_JANUARY)
    requests = list_requests(api)
    assert len(requests) == 6
    assert {(k, q["house"]) for q in requests for k in q if k.endswith("WhenFrom")} == {
        (w, h)
        for w in ("answeredWhenFrom", "correctedWhenFrom", "tabledWhenFrom")
        for h in ("Commons", "Lords")
    }
    for q in requests:
        assert q["expandMember"] == "true"
        assert q["includeWithdrawn"] == "true"
        low = next(k for k in q if k.endswith("WhenFrom"))
        assert q[low] == "2024-01-12"
        assert q[low.replace("From", "To")] == "2024-01-15"
    keys = [e.key for e in listing.entries]
    assert {str(SEED), str(VERB), str(LORDS)} <= set(keys)
    # The send-as-verb question was tabled and answered inside the window: listed twice, kept once.
    assert len(keys) == len(set(keys))


def test_withdrawn_questions_are_listed(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    api.add(question(2_000_001, isWithdrawn=True, dateTabled="2024-01-13T00:00:00"))
    keys = {e.key for e in source.list(*MID_JANUARY).entries}
    assert "2000001" in keys


def test_entry_fingerprint_follows_the_listed_entry(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    before = {e.key: e.fingerprint for e in source.list(*MID_JANUARY).entries}
    assert before == {e.key: e.fingerprint for e in source.list(*MID_JANUARY).entries}
    changed = fixture(VERB)
    changed["heading"] = "Schools: Support Staff"
    api.replace(changed)
    after = {e.key: e.fingerprint for e in source.list(*MID_JANUARY).entries}
    assert after[str(VERB)] != before[str(VERB)]
    assert after[str(SEED)] == before[str(SEED)]


def test_an_empty_page_before_total_results_ends_the_listing() -> None:
    values = [question(2_000_000 + n, dateAnswered="2024-01-14T00:00:00") for n in range(23)]
    with FakeParliamentAPI(values) as api:
        api.fail(
            times=100,
            status=200,
            body=json.dumps({"totalResults": 23, "results": []}),
            target="skip=7",
        )
        src = ParliamentWrittenQuestions(
            config(api.base_url, page_size=7, windows=["answered"], houses=["Commons"]), UA
        )
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        assert len(list_requests(api)) == 2
    assert listing.error is None
    assert len(listing.entries) == 7


def test_a_failing_page_keeps_the_earlier_pages() -> None:
    values = [question(2_000_000 + n, dateAnswered="2024-01-14T00:00:00") for n in range(23)]
    with FakeParliamentAPI(values) as api:
        api.fail(times=100, status=502, target="skip=14")
        src = ParliamentWrittenQuestions(
            config(api.base_url, page_size=7, windows=["answered", "tabled"]), UA
        )
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        requests = list_requests(api)
    assert isinstance(listing.error, FetchError)
    assert "502" in str(listing.error)
    assert len(listing.entries) == 14
    # Stopped at the failure: no later page, house or window was asked for.
    assert [q["skip"] for q in requests] == ["0", "7", "14", "14"]


def test_a_malformed_page_is_a_parse_error(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    api.fail(1, status=200, body=json.dumps({"results": []}), endpoint="list")
    listing = source.list(*MID_JANUARY)
    assert isinstance(listing.error, ParseError)
    assert "totalResults" in str(listing.error)
    assert listing.entries == ()


# --- fetch ---------------------------------------------------------------------------------


def test_fetch_gets_the_full_answer_the_list_truncates(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    listing = source.list(*MID_JANUARY)
    page = httpx.get(
        f"{api.base_url}{LIST}",
        params={"answeredWhenFrom": "2024-01-15", "answeredWhenTo": "2024-01-15", "take": 100},
    ).json()
    listed = next(r["value"] for r in page["results"] if r["value"]["id"] == SEED)
    assert "SEND workforce" not in listed["answerText"]

    seed_entry = next(e for e in listing.entries if e.key == str(SEED))
    fetched = source.fetch([seed_entry])
    assert fetched.errors == ()
    [(record, fingerprint)] = fetched.records
    assert fingerprint == seed_entry.fingerprint
    assert record.text("answer") is not None
    assert "SEND workforce" in record.text("answer").plain
    assert question_of(record).answered_by == Person(
        4835, "David Johnston", "Conservative", "Wantage"
    )
    assert question_of(record).status is Status.ANSWERED
    assert record.url == (
        "https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602"
    )
    assert ("/api/writtenquestions/questions/1683412", {"expandMember": "true"}) in api.requests


def test_fetch_reports_failures_per_item_and_keeps_order(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    api.fail(times=100, status=500, target=f"/questions/{SEED}")
    entries = [ListEntry(str(q), f"fp{q}") for q in (LORDS, SEED, VERB, RECORDED, 999)]
    fetched = source.fetch(entries)
    assert [(r.key, fp) for r, fp in fetched.records] == [
        (str(LORDS), f"fp{LORDS}"),
        (str(VERB), f"fp{VERB}"),
        (str(RECORDED), f"fp{RECORDED}"),
    ]
    errors = dict(fetched.errors)
    assert set(errors) == {str(SEED), "999"}
    assert isinstance(errors[str(SEED)], FetchError)
    assert "500" in str(errors[str(SEED)])
    assert "404" in str(errors["999"])


def test_fetch_reports_an_unreadable_item(
    api: FakeParliamentAPI, source: ParliamentWrittenQuestions
) -> None:
    broken = fixture(VERB)
    broken["dateTabled"] = "next Tuesday"
    api.replace(broken)
    fetched = source.fetch([ListEntry(str(VERB), "x"), ListEntry(str(LORDS), "y")])
    assert [r.key for r, _ in fetched.records] == [str(LORDS)]
    [(key, error)] = fetched.errors
    assert key == str(VERB)
    assert isinstance(error, ParseError)
    assert "dateTabled" in str(error)


def test_open_source_builds_a_working_source_by_kind(api: FakeParliamentAPI) -> None:
    assert "parliament_written_questions" in SOURCES
    src = open_source(config(api.base_url, houses=["Lords"], windows=["answered"]), UA)
    assert isinstance(src, ParliamentWrittenQuestions)
    try:
        listing = src.list(*MID_JANUARY)
    finally:
        src.close()
    assert src.id == "wq"
    assert [e.key for e in listing.entries] == [str(LORDS)]
    assert listing.entries[0].fingerprint == fingerprint_of(
        next(
            r["value"]
            for r in httpx.get(
                f"{api.base_url}{LIST}",
                params={
                    "house": "Lords",
                    "answeredWhenFrom": "2024-01-12",
                    "answeredWhenTo": "2024-01-15",
                    "expandMember": "true",
                    "includeWithdrawn": "true",
                },
            ).json()["results"]
        )
    )


# --- parse_question --------------------------------------------------------------------------


def test_recorded_detail_parses_to_golden_values() -> None:
    r = parse_question(fixture(RECORDED), "wq")
    assert (r.source, r.key, r.kind) == ("wq", "1679416", "written_question")
    assert r.title == "Apprentices: Employment Agencies"
    assert r.url == (
        "https://questions-statements.parliament.uk/written-questions/detail/2024-01-05/7926"
    )
    assert (question_of(r).house, question_of(r).uin) == ("Commons", "7926")
    assert (question_of(r).department, question_of(r).department_id) == (
        "Department for Education",
        60,
    )
    assert question_of(r).asked_by == Person(4253, "Member 4253")
    assert question_of(r).answered_by == Person(3985, "Member 3985")
    assert question_of(r).corrected_by is None
    assert question_of(r).status is Status.ANSWERED
    assert question_of(r).date_tabled == date(2024, 1, 5)
    assert question_of(r).date_for_answer == date(2024, 1, 10)
    assert question_of(r).date_answered == date(2024, 1, 10)
    assert (question_of(r).date_holding, question_of(r).date_corrected) == (None, None)
    assert question_of(r).named_day is True
    assert (question_of(r).is_correction, question_of(r).member_has_interest) == (False, False)
    assert (question_of(r).grouped, r.attachments, question_of(r).original_answer) == ((), (), None)
    assert r.text("question") is not None
    assert r.text("question").plain == (
        "To ask the Secretary of State for Education, how many (a) starts and (b) completions "
        "of flexi-job apprenticeships there have been through the flexi-job apprenticeship "
        "agencies register since February 2022."
    )
    assert r.text("question").html == f"<p>{r.text('question').plain}</p>"
    assert r.text("answer") is not None
    assert r.text("answer").plain.startswith(
        "The department is supporting sectors with short-term project-based work"
    )
    assert r.text("answer").plain.endswith(
        "The department intends to publish data on achievements by FJAAs in due course."
    )
    assert r.text("answer").plain.count("\n\n") == 3
    assert "£7 million fund" in r.text("answer").plain
    assert (
        '<a href="https://www.gov.uk/government/publications/flexi-job-apprenticeships/'
        'flexi-job-apprenticeship-agencies" rel="noopener noreferrer">'
    ) in r.text("answer").html
    assert "target=" not in r.text("answer").html


def test_expanded_members_are_people() -> None:
    r = parse_question(fixture(LORDS), "wq")
    assert question_of(r).asked_by == Person(990103, "Baroness Ashcombe", "Crossbench", "Life peer")
    assert question_of(r).answered_by == Person(990104, "Lord Merrow", "Conservative", "Life peer")
    assert question_of(r).house == "Lords"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, Status.ANSWERED),
        ({"isWithdrawn": True}, Status.WITHDRAWN),
        ({"answerIsHolding": True, "dateHoldingAnswer": "2024-01-15T00:00:00"}, Status.HOLDING),
        (
            {
                "answerText": "",
                "dateAnswered": None,
                "answeringMember": None,
                "answeringMemberId": None,
            },
            Status.TABLED,
        ),
        ({"answerText": "<p> </p>"}, Status.TABLED),
        ({"answerText": None, "dateAnswered": None}, Status.TABLED),
    ],
)
def test_status_mapping(changes: dict[str, Any], status: Status) -> None:
    assert question_of(parse_question(question(5, **changes), "wq")).status is status


def test_lords_holding_fixture_is_a_holding_answer() -> None:
    r = parse_question(fixture(LORDS), "wq")
    assert question_of(r).status is Status.HOLDING
    assert question_of(r).date_holding == date(2024, 1, 15)


def test_a_corrected_answer_keeps_both_versions() -> None:
    corrector = {
        "id": 4835,
        "name": "David Johnston",
        "party": "Conservative",
        "memberFrom": "Wantage",
        "listAs": "Johnston, David",
    }
    r = parse_question(
        question(
            6,
            answerIsCorrection=True,
            dateAnswerCorrected="2024-02-01T00:00:00",
            originalAnswerText="<p>The old answer.</p>",
            answerText="<p>The corrected answer.</p>",
            correctingMemberId=4835,
            correctingMember=corrector,
        ),
        "wq",
    )
    assert question_of(r).status is Status.ANSWERED
    assert question_of(r).is_correction is True
    assert question_of(r).date_corrected == date(2024, 2, 1)
    assert question_of(r).corrected_by == Person(4835, "David Johnston", "Conservative", "Wantage")
    assert question_of(r).original_answer is not None
    assert question_of(r).original_answer.plain == "The old answer."
    assert r.text("answer") is not None
    assert r.text("answer").plain == "The corrected answer."


def test_unsafe_markup_is_removed_from_answers() -> None:
    r = parse_question(
        question(7, answerText='<p onclick="x()">Hi<script>alert(1)</script></p>'), "wq"
    )
    assert r.text("answer") is not None
    assert r.text("answer").html == "<p>Hi</p>"
    assert r.text("answer").plain == "Hi"


def test_grouped_questions_prefer_dates_then_fall_back_to_uins() -> None:
    grouped = question_of(parse_question(fixture(1679855), "wq")).grouped
    assert grouped == (GroupedQuestion("8159", date(2024, 1, 5)),)
    fallback = question_of(
        parse_question(question(8, groupedQuestions=["100", "101"], groupedQuestionsDates=[]), "wq")
    ).grouped
    assert fallback == (GroupedQuestion("100", None), GroupedQuestion("101", None))


def test_attachments_are_mapped_and_only_web_links_kept() -> None:
    r = parse_question(
        question(
            9,
            attachments=[
                {
                    "url": "https://docs.example/a.pdf",
                    "title": "Table",
                    "fileType": "PDF",
                    "fileSizeBytes": 1234,
                },
                {"url": "javascript:alert(1)", "title": "x", "fileType": None, "fileSizeBytes": 0},
            ],
        ),
        "wq",
    )
    assert r.attachments == (Attachment("https://docs.example/a.pdf", "Table", "PDF", 1234),)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None}, "id"),
        ({"id": "1683412"}, "id"),
        ({"dateTabled": "the 8th"}, "dateTabled"),
        ({"askingMemberId": "Hale"}, "askingMemberId"),
        ({"askingMember": {"id": 1, "name": 42}}, "askingMember.name"),
        ({"isNamedDay": "no"}, "isNamedDay"),
        ({"answerText": ["<p>"]}, "answerText"),
        ({"attachments": [{"title": "no url"}]}, "attachments[0].url"),
        (
            {"groupedQuestionsDates": [{"dateTabled": "2024-01-01T00:00:00"}]},
            "groupedQuestionsDates[0].questionUin",
        ),
    ],
)
def test_malformed_values_name_the_field(changes: dict[str, Any], field: str) -> None:
    value = fixture(SEED)
    value.update(changes)
    with pytest.raises(ParseError, match=f"field {re.escape(field)}"):
        parse_question(value, "wq")
