"""The written statements source against the fake API over a real socket, parse_statement on
its own, its records against golden copies, and ``watcher run --once`` with a statements source."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from watcher.config import StatementsSourceConfig
from watcher.config import parse as parse_config
from watcher.errors import ConfigError, FetchError, ParseError
from watcher.match import Rule, match_events, parse
from watcher.model import Event, EventType, record_to_dict
from watcher.sources import SOURCES, open_source
from watcher.sources.base import ListEntry
from watcher.sources.parliament import parse_question
from watcher.sources.statements import ParliamentWrittenStatements, parse_statement
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import load_fixtures
from watcher.testing.fakestatements import STATEMENTS_PATH, FakeStatementsAPI, load_statements

UA = "watcher-tests/1"
SEND = 1800101  # DfE, Commons, "SEND workforce" past the list's truncation
DENTAL = 1800102  # DHSC, Commons, one attachment (and one javascript: link)
LORDS = 1800103  # DfE, Lords
SEED_QUESTION = 1683412
MID_JANUARY = (date(2024, 1, 12), date(2024, 1, 16))
GOLDEN = Path(__file__).parent / "data" / "statements" / "written-statements.records.json"
SEND_LINK = (
    "https://questions-statements.parliament.uk/written-statements/detail/2024-01-15/HCWS190"
)


def fixture(sid: int) -> dict[str, Any]:
    return copy.deepcopy(next(v for v in load_statements() if v["id"] == sid))


def statement(sid: int, **changes: Any) -> dict[str, Any]:
    """A detail value shaped like the DfE statement, with a new id and UIN."""
    value = fixture(SEND)
    value.update(id=sid, uin=f"HCWS{sid}", **changes)
    return value


def config(base_url: str, **overrides: Any) -> StatementsSourceConfig:
    settings: dict[str, Any] = {
        "id": "statements",
        "kind": "parliament_written_statements",
        "base_url": base_url,
        "timeout": "2s",
        "backoff": "10ms",
        "retries": 1,
        "max_per_second": 20,
    }
    settings.update(overrides)
    return StatementsSourceConfig(**settings)


@pytest.fixture
def api() -> Iterator[FakeStatementsAPI]:
    with FakeStatementsAPI.with_fixtures() as server:
        yield server


@pytest.fixture
def source(api: FakeStatementsAPI) -> Iterator[ParliamentWrittenStatements]:
    s = ParliamentWrittenStatements(config(api.base_url), UA)
    yield s
    s.close()


def list_requests(api: FakeStatementsAPI) -> list[dict[str, str]]:
    return [query for path, query in api.requests if path == STATEMENTS_PATH]


# --- config ------------------------------------------------------------------------------


def test_the_config_shape_reads_with_the_questions_defaults() -> None:
    config = parse_config(
        """
sources:
  - id: statements
    kind: parliament_written_statements
    every: 15m
    lookback_days: 3
""",
        "watcher.yaml",
        {},
    )
    [s] = config.sources
    assert isinstance(s, StatementsSourceConfig)
    assert (s.base_url, s.houses, s.page_size) == (
        "https://questions-statements-api.parliament.uk",
        ("Commons", "Lords"),
        100,
    )


def test_question_windows_are_refused_on_a_statements_source() -> None:
    text = "sources:\n  - {id: s, kind: parliament_written_statements, windows: [answered]}\n"
    with pytest.raises(ConfigError, match=r"sources\[0\]\.windows"):
        parse_config(text, "watcher.yaml", {})


# --- golden records ------------------------------------------------------------------------


def test_fixtures_parse_to_the_golden_records() -> None:
    records = [record_to_dict(parse_statement(v, "statements")) for v in load_statements()]
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    assert records == json.loads(GOLDEN.read_text(encoding="utf-8"))


# --- list ----------------------------------------------------------------------------------


def test_lists_each_house_by_day_made_page_by_page() -> None:
    values = [statement(2_000_000 + n, dateMade="2024-01-14T00:00:00") for n in range(23)]
    outside = statement(3_000_000, dateMade="2024-01-02T00:00:00")
    with FakeStatementsAPI(statements=[*values, outside]) as api:
        src = ParliamentWrittenStatements(config(api.base_url, page_size=7), UA)
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        queries = list_requests(api)
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == sorted(str(v["id"]) for v in values)
    # 23 Commons statements in pages of 7 is four requests; Lords has none: one request.
    assert [(q["house"], q["skip"]) for q in queries] == [
        ("Commons", "0"),
        ("Commons", "7"),
        ("Commons", "14"),
        ("Commons", "21"),
        ("Lords", "0"),
    ]
    assert all(
        q["madeWhenFrom"] == "2024-01-12"
        and q["madeWhenTo"] == "2024-01-16"
        and q["take"] == "7"
        and q["expandMember"] == "true"
        for q in queries
    )


def test_entry_fingerprint_follows_the_listed_entry(
    api: FakeStatementsAPI, source: ParliamentWrittenStatements
) -> None:
    before = {e.key: e.fingerprint for e in source.list(*MID_JANUARY).entries}
    assert set(before) == {str(SEND), str(DENTAL), str(LORDS)}
    changed = fixture(DENTAL)
    changed["title"] = "NHS Dental Recovery Plan (revised)"
    api.replace_statement(changed)
    after = {e.key: e.fingerprint for e in source.list(*MID_JANUARY).entries}
    assert after[str(DENTAL)] != before[str(DENTAL)]
    assert after[str(SEND)] == before[str(SEND)]


def test_a_failing_page_keeps_the_earlier_house(api: FakeStatementsAPI) -> None:
    api.fail(times=10, status=503, target="house=Lords")
    src = ParliamentWrittenStatements(config(api.base_url), UA)
    try:
        listing = src.list(*MID_JANUARY)
    finally:
        src.close()
    assert isinstance(listing.error, FetchError)
    assert sorted(e.key for e in listing.entries) == [str(SEND), str(DENTAL)]


# --- fetch ---------------------------------------------------------------------------------


def test_fetch_gets_the_full_text_the_list_truncates(
    api: FakeStatementsAPI, source: ParliamentWrittenStatements
) -> None:
    query = parse('"SEND workforce"')
    page = httpx.get(
        f"{api.base_url}{STATEMENTS_PATH}",
        params={"madeWhenFrom": "2024-01-15", "madeWhenTo": "2024-01-15", "house": "Commons"},
    ).json()
    listed = next(r["value"] for r in page["results"] if r["value"]["id"] == SEND)
    assert listed["text"].endswith("...")
    assert "SEND workforce" not in listed["text"]

    entry = next(e for e in source.list(*MID_JANUARY).entries if e.key == str(SEND))
    fetched = source.fetch([entry])
    assert fetched.errors == ()
    [(record, fingerprint)] = fetched.records
    assert fingerprint == entry.fingerprint
    [found] = match_events([Rule("r", query)], [Event(EventType.PUBLISHED, record)])
    assert found.hits[0].field == "text"
    assert found.hits[0].start > 255
    assert record.url == SEND_LINK
    assert (f"{STATEMENTS_PATH}/{SEND}", {"expandMember": "true"}) in api.requests


def test_attachments_come_from_the_detail_and_only_web_links_are_kept(
    api: FakeStatementsAPI, source: ParliamentWrittenStatements
) -> None:
    [(record, _)] = source.fetch([ListEntry(str(DENTAL), "fp")]).records
    assert [a.url for a in record.attachments] == [
        "https://questions-statements.parliament.uk/api/writtenstatements/attachment/1800102/"
        "dental-recovery-plan.pdf"
    ]
    assert record.attachments[0].file_type == "pdf"


def test_a_failing_detail_is_that_items_error_and_the_others_are_kept(
    api: FakeStatementsAPI, source: ParliamentWrittenStatements
) -> None:
    api.fail(times=100, status=500, target=f"{STATEMENTS_PATH}/{SEND}")
    entries = [ListEntry(str(s), f"fp{s}") for s in (LORDS, SEND, DENTAL, 999)]
    fetched = source.fetch(entries)
    assert [(r.key, fp) for r, fp in fetched.records] == [
        (str(LORDS), f"fp{LORDS}"),
        (str(DENTAL), f"fp{DENTAL}"),
    ]
    errors = dict(fetched.errors)
    assert set(errors) == {str(SEND), "999"}
    assert isinstance(errors[str(SEND)], FetchError)
    assert "404" in str(errors["999"])


def test_an_unreadable_detail_names_the_field(
    api: FakeStatementsAPI, source: ParliamentWrittenStatements
) -> None:
    broken = fixture(LORDS)
    broken["dateMade"] = "last Monday"
    api.replace_statement(broken)
    fetched = source.fetch([ListEntry(str(LORDS), "x"), ListEntry(str(SEND), "y")])
    assert [r.key for r, _ in fetched.records] == [str(SEND)]
    [(key, error)] = fetched.errors
    assert key == str(LORDS)
    assert isinstance(error, ParseError)
    assert "dateMade" in str(error)


def test_open_source_builds_a_statements_source_by_kind(api: FakeStatementsAPI) -> None:
    assert "parliament_written_statements" in SOURCES
    src = open_source(config(api.base_url, houses=["Lords"]), UA)
    assert isinstance(src, ParliamentWrittenStatements)
    try:
        listing = src.list(*MID_JANUARY)
    finally:
        src.close()
    assert [e.key for e in listing.entries] == [str(LORDS)]


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None}, "id"),
        ({"id": "1800101"}, "id"),
        ({"dateMade": "the 15th"}, "dateMade"),
        ({"dateMade": None}, "dateMade"),
        ({"uin": 190}, "uin"),
        ({"memberId": "Morgan"}, "memberId"),
        ({"member": {"id": 1, "name": 42}}, "member.name"),
        ({"answeringBodyId": "DfE"}, "answeringBodyId"),
        ({"text": ["<p>"]}, "text"),
        ({"attachments": [{"title": "no url"}]}, "attachments[0].url"),
    ],
)
def test_malformed_values_name_the_field(changes: dict[str, Any], field: str) -> None:
    value = fixture(SEND)
    value.update(changes)
    with pytest.raises(ParseError, match=re.escape(field)):
        parse_statement(value, "statements")


def test_unsafe_markup_is_removed_from_the_text() -> None:
    value = statement(4_000_000, text='<p onclick="x()">Hello<script>alert(1)</script></p>')
    record = parse_statement(value, "statements")
    assert record.texts["text"].plain == "Hello"
    assert "script" not in record.texts["text"].html
    assert "onclick" not in record.texts["text"].html


def test_type_and_department_rules_select_statements() -> None:
    statements = [parse_statement(v, "statements") for v in load_statements()]
    seed = next(v for v in load_fixtures() if v["id"] == SEED_QUESTION)
    question = parse_question(seed, "written-questions")
    events = [
        *(Event(EventType.PUBLISHED, r) for r in statements),
        Event(EventType.ANSWERED, question),
    ]
    rules = [
        Rule("statements", parse("type:statement")),
        Rule("dfe", parse("department:60")),
        Rule("dfe-statements", parse('"SEND workforce" type:statement department:60')),
    ]
    found: dict[str, list[str]] = {}
    for m in match_events(rules, events):
        found.setdefault(m.rule_id, []).append(m.event.record.key)
    assert sorted(found["statements"]) == [str(SEND), str(DENTAL), str(LORDS)]
    assert sorted(found["dfe"]) == sorted([str(SEND), str(LORDS), str(SEED_QUESTION)])
    assert found["dfe-statements"] == [str(SEND)]


# --- the command ---------------------------------------------------------------------------


def test_run_once_delivers_the_statement_to_the_files_channel_once(
    tmp_path: Path, api: FakeStatementsAPI
) -> None:
    outbox = tmp_path / "outbox"
    path = tmp_path / "watcher.yaml"
    source = f"""
    base_url: {api.base_url}
    lookback_days: 3
    retries: 1
    backoff: 10ms
    timeout: 2s
    max_per_second: 20"""
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: written-questions
    kind: parliament_written_questions{source}
  - id: statements
    kind: parliament_written_statements
    every: 15m{source}
channels:
  - id: files
    kind: files
    path: {outbox}
rules:
  - id: dfe-send-statements
    query: '"SEND workforce" type:statement department:60'
subscriptions:
  - rules: [dfe-send-statements]
    channel: files
    digest: immediate
""")
    first = watcher(path, "run", "--once", "--since", "2024-01-08")
    assert first.returncode == 0, first.stderr
    [eml] = sorted(outbox.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Special Educational Needs and Disabilities: Next Steps" in text
    assert SEND_LINK in text
    # The seed question says "SEND workforce" too, to DfE, but it is not a statement.
    assert "8602" not in text
    assert any(p == f"{STATEMENTS_PATH}/{SEND}" for p, _ in api.requests)

    api.requests.clear()
    second = watcher(path, "run", "--once", "--since", "2024-01-08")
    assert second.returncode == 0, second.stderr
    assert sorted(outbox.glob("*.eml")) == [eml]
    # Nothing changed: the statements endpoint was only listed.
    statement_paths = {p for p, _ in api.requests if p.startswith(STATEMENTS_PATH)}
    assert statement_paths == {STATEMENTS_PATH}
