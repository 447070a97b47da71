"""The Hansard contributions source against the fake Hansard API over a real socket,
parse_contribution on its own, its records against golden copies, and ``watcher run --once``
with a Hansard source."""

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

import pytest

from watcher.config import HansardSourceConfig
from watcher.config import parse as parse_config
from watcher.errors import FetchError, ParseError
from watcher.match import Rule, match_events, parse
from watcher.model import Event, EventType, record_to_dict
from watcher.sources import SOURCES, open_source
from watcher.sources.hansard import HansardContributions, parse_contribution
from watcher.sources.parliament import parse_question
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import load_fixtures
from watcher.testing.fakehansard import (
    DEBATE_PREFIX,
    SEARCH_PREFIX,
    FakeHansardAPI,
    load_contributions,
)

UA = "watcher-tests/1"
SEND = "5A1E0F10-0000-4000-8000-000000000101"  # Commons, spoken, "SEND workforce" at 431
REPLY = "5A1E0F10-0000-4000-8000-000000000102"  # the minister's reply, same debate
LORDS = "5A1E0F10-0000-4000-8000-000000000103"  # Lords, spoken
WRITTEN = "5A1E0F10-0000-4000-8000-000000000104"  # Commons, written statement
OLD = "5A1E0F10-0000-4000-8000-000000000105"  # 2 January: outside the window
SEND_DEBATE = "D3B47E20-0000-4000-8000-000000000001"
MID_JANUARY = (date(2024, 1, 12), date(2024, 1, 16))
GOLDEN = Path(__file__).parent / "data" / "hansard" / "contributions.records.json"
SEND_LINK = (
    f"https://hansard.parliament.uk/Commons/2024-01-15/debates/{SEND_DEBATE}/link"
    f"#contribution-{SEND}"
)


def fixtures() -> list[tuple[str, dict[str, Any]]]:
    return [(kind, v) for kind, values in load_contributions().items() for v in values]


def fixture(ext: str) -> dict[str, Any]:
    return copy.deepcopy(next(v for _, v in fixtures() if v["ContributionExtId"] == ext))


def config(base_url: str, **overrides: Any) -> HansardSourceConfig:
    settings: dict[str, Any] = {
        "id": "hansard",
        "kind": "hansard",
        "base_url": base_url,
        "timeout": "2s",
        "backoff": "10ms",
        "retries": 1,
        "max_per_second": 20,
    }
    settings.update(overrides)
    return HansardSourceConfig(**settings)


@pytest.fixture
def api() -> Iterator[FakeHansardAPI]:
    with FakeHansardAPI.with_fixtures() as server:
        yield server


@pytest.fixture
def source(api: FakeHansardAPI) -> Iterator[HansardContributions]:
    s = HansardContributions(config(api.base_url), UA)
    yield s
    s.close()


def searches(api: FakeHansardAPI) -> list[tuple[str, dict[str, str]]]:
    return [(p, q) for p, q in api.requests if p.startswith(SEARCH_PREFIX)]


# --- config ------------------------------------------------------------------------------


def test_the_config_reads_with_both_contribution_types_and_houses_by_default() -> None:
    loaded = parse_config("sources:\n  - {id: hansard, kind: hansard}\n", "watcher.yaml", {})
    [s] = loaded.sources
    assert isinstance(s, HansardSourceConfig)
    assert (s.base_url, s.contributions, s.houses) == (
        "https://hansard-api.parliament.uk",
        ("Spoken", "Written"),
        ("Commons", "Lords"),
    )


def test_an_unknown_contribution_type_is_refused() -> None:
    from watcher.errors import ConfigError

    text = "sources:\n  - {id: h, kind: hansard, contributions: [Petitions]}\n"
    with pytest.raises(ConfigError, match=r"sources\[0\]\.contributions"):
        parse_config(text, "watcher.yaml", {})


# --- golden records ------------------------------------------------------------------------


def test_fixtures_parse_to_the_golden_records() -> None:
    records = [record_to_dict(parse_contribution(v, "hansard", kind)) for kind, v in fixtures()]
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    assert records == json.loads(GOLDEN.read_text(encoding="utf-8"))


# --- list ----------------------------------------------------------------------------------


def test_lists_each_type_and_house_with_the_spec_parameters_and_fetches_nothing(
    api: FakeHansardAPI, source: HansardContributions
) -> None:
    listing = source.list(*MID_JANUARY)
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == sorted([SEND, REPLY, LORDS, WRITTEN])
    # The search carries the whole text: every entry is complete, nothing is fetched.
    assert all(e.record is not None for e in listing.entries)
    assert source.fetch([]).records == ()
    requests = searches(api)
    assert [(p, q["queryParameters.house"]) for p, q in requests] == [
        (f"{SEARCH_PREFIX}Spoken.json", "Commons"),
        (f"{SEARCH_PREFIX}Spoken.json", "Lords"),
        (f"{SEARCH_PREFIX}Written.json", "Commons"),
        (f"{SEARCH_PREFIX}Written.json", "Lords"),
    ]
    assert all(
        q["queryParameters.startDate"] == "2024-01-12"
        and q["queryParameters.endDate"] == "2024-01-16"
        for _, q in requests
    )
    assert not any(p.startswith(DEBATE_PREFIX) for p, _ in api.requests)


def test_pages_through_by_total_result_count() -> None:
    base = fixture(SEND)
    values = []
    for n in range(23):
        value = copy.deepcopy(base)
        value.update(ContributionExtId=f"EXT-{n:03d}", ItemId=n, OrderInDebateSection=n)
        values.append(value)
    with FakeHansardAPI({"Spoken": values}) as api:
        src = HansardContributions(
            config(api.base_url, page_size=7, contributions=["Spoken"], houses=["Commons"]), UA
        )
        try:
            listing = src.list(*MID_JANUARY)
        finally:
            src.close()
        requests = searches(api)
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == [f"EXT-{n:03d}" for n in range(23)]
    assert [(q["queryParameters.skip"], q["queryParameters.take"]) for _, q in requests] == [
        ("0", "7"),
        ("7", "7"),
        ("14", "7"),
        ("21", "7"),
    ]


def test_a_failing_page_keeps_the_entries_listed_before_it(api: FakeHansardAPI) -> None:
    api.fail(times=10, status=503, target="Written.json")
    src = HansardContributions(config(api.base_url), UA)
    try:
        listing = src.list(*MID_JANUARY)
    finally:
        src.close()
    assert isinstance(listing.error, FetchError)
    assert sorted(e.key for e in listing.entries) == sorted([SEND, REPLY, LORDS])


def test_rank_is_not_a_change(api: FakeHansardAPI) -> None:
    with FakeHansardAPI.with_fixtures(full_text=False) as snippets:
        src = HansardContributions(config(snippets.base_url), UA)
        try:
            before = {e.key: e.fingerprint for e in src.list(*MID_JANUARY).entries}
            moved = fixture(LORDS)
            moved["Rank"] = 99
            snippets.add_contribution("Spoken", moved)
            after = {e.key: e.fingerprint for e in src.list(*MID_JANUARY).entries}
            edited = fixture(LORDS)
            edited["ContributionText"] = "My Lords, a corrected snippet"
            snippets.add_contribution("Spoken", edited)
            again = {e.key: e.fingerprint for e in src.list(*MID_JANUARY).entries}
        finally:
            src.close()
    assert after == before
    assert again[LORDS] != before[LORDS]


# --- fetch, when the search gives only a snippet -------------------------------------------


def test_without_the_full_text_each_debate_is_fetched_once_for_its_contributions() -> None:
    with FakeHansardAPI.with_fixtures(full_text=False) as api:
        src = HansardContributions(config(api.base_url), UA)
        try:
            listing = src.list(*MID_JANUARY)
            assert all(e.record is None for e in listing.entries)
            fetched = src.fetch(listing.entries)
        finally:
            src.close()
        debates = [p for p, _ in api.requests if p.startswith(DEBATE_PREFIX)]
    assert fetched.errors == ()
    records = {r.key: r for r, _ in fetched.records}
    assert set(records) == {SEND, REPLY, LORDS, WRITTEN}
    # SEND and REPLY share a debate: three debates, three requests.
    assert sorted(debates) == sorted(
        f"{DEBATE_PREFIX}D3B47E20-0000-4000-8000-00000000000{n}.json" for n in (1, 2, 4)
    )
    [found] = match_events(
        [Rule("r", parse('"SEND workforce"'))], [Event(EventType.PUBLISHED, records[SEND])]
    )
    # Past the 120-character snippet: only the debate's full text has it.
    assert found.hits[0].field == "text"
    assert found.hits[0].start > 120
    assert records[SEND].url == SEND_LINK


def test_a_failing_debate_is_its_contributions_error_and_the_others_are_kept() -> None:
    with FakeHansardAPI.with_fixtures(full_text=False) as api:
        api.fail(times=10, status=500, target=SEND_DEBATE)
        src = HansardContributions(config(api.base_url), UA)
        try:
            fetched = src.fetch(src.list(*MID_JANUARY).entries)
        finally:
            src.close()
    assert sorted(r.key for r, _ in fetched.records) == sorted([LORDS, WRITTEN])
    errors = dict(fetched.errors)
    assert set(errors) == {SEND, REPLY}
    assert all(isinstance(e, FetchError) for e in errors.values())


def test_an_unreadable_contribution_is_its_own_error_and_names_the_field(
    api: FakeHansardAPI, source: HansardContributions
) -> None:
    broken = fixture(LORDS)
    broken["MemberId"] = "Baroness Ferrand"
    api.add_contribution("Spoken", broken)
    listing = source.list(*MID_JANUARY)
    assert listing.error is None
    stale = [e for e in listing.entries if e.record is None]
    assert [e.key for e in stale] == [LORDS]
    fetched = source.fetch(stale)
    [(key, error)] = fetched.errors
    assert key == LORDS
    assert isinstance(error, ParseError)
    assert "MemberId" in str(error)
    assert sum(e.record is not None for e in listing.entries) == 3


def test_open_source_builds_a_hansard_source_by_kind(api: FakeHansardAPI) -> None:
    assert "hansard" in SOURCES
    src = open_source(config(api.base_url, houses=["Lords"], contributions=["Spoken"]), UA)
    assert isinstance(src, HansardContributions)
    try:
        listing = src.list(*MID_JANUARY)
    finally:
        src.close()
    assert [e.key for e in listing.entries] == [LORDS]


# --- parsing -------------------------------------------------------------------------------


def test_a_record_links_to_the_contribution_in_its_debate() -> None:
    record = parse_contribution(fixture(SEND), "hansard", "Spoken")
    assert record.url == SEND_LINK
    assert record.title == "Special Educational Needs: Workforce — Catherine Hale"
    assert record.day == date(2024, 1, 15)
    assert dict(record.facets) == {
        "house": ("Commons",),
        "member": ("Catherine Hale", "990101"),
        "section": ("Special Educational Needs: Workforce", "4900101"),
        "category": ("Spoken",),
    }


def test_a_contribution_without_an_external_id_is_keyed_by_its_item_id() -> None:
    value = fixture(WRITTEN)
    value["ContributionExtId"] = None
    record = parse_contribution(value, "hansard", "Written")
    assert record.key == "880000104"
    assert "#contribution" not in record.url


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ContributionExtId": None, "ItemId": None}, "ItemId"),
        ({"ContributionExtId": 7}, "ContributionExtId"),
        ({"SittingDate": "the 15th"}, "SittingDate"),
        ({"SittingDate": None}, "SittingDate"),
        ({"House": None}, "House"),
        ({"DebateSectionExtId": None}, "DebateSectionExtId"),
        ({"MemberId": "Hale"}, "MemberId"),
        ({"DebateSectionId": "x"}, "DebateSectionId"),
        ({"ContributionTextFull": ["<p>"]}, "ContributionTextFull"),
    ],
)
def test_malformed_values_name_the_field(changes: dict[str, Any], field: str) -> None:
    value = fixture(SEND)
    value.update(changes)
    with pytest.raises(ParseError, match=re.escape(field)):
        parse_contribution(value, "hansard", "Spoken")


def test_unsafe_markup_is_removed_from_the_text() -> None:
    value = fixture(SEND)
    value["ContributionTextFull"] = '<p onclick="x()">Hello<script>alert(1)</script></p>'
    record = parse_contribution(value, "hansard", "Spoken")
    assert record.texts["text"].plain == "Hello"
    assert "script" not in record.texts["text"].html
    assert "onclick" not in record.texts["text"].html


def test_a_text_without_markup_keeps_its_paragraphs() -> None:
    value = fixture(SEND)
    value["ContributionTextFull"] = "First point & more.\n\nSecond point."
    record = parse_contribution(value, "hansard", "Spoken")
    assert record.texts["text"].plain == "First point & more.\n\nSecond point."
    assert record.texts["text"].html.count("<p>") == 2
    assert "&amp;" in record.texts["text"].html


def test_type_member_and_category_rules_select_contributions() -> None:
    contributions = [parse_contribution(v, "hansard", kind) for kind, v in fixtures()]
    seed = next(v for v in load_fixtures() if v["id"] == 1683412)
    events = [
        *(Event(EventType.PUBLISHED, r) for r in contributions),
        Event(EventType.ANSWERED, parse_question(seed, "written-questions")),
    ]
    rules = [
        Rule("contributions", parse("type:contribution")),
        Rule("send", parse('"SEND workforce"')),
        Rule("send-contributions", parse('"SEND workforce" type:contribution')),
        Rule("written", parse("category:written type:contribution")),
        Rule("aldridge", parse("member:990302")),
        Rule("lords", parse("house:lords type:contribution")),
    ]
    found: dict[str, list[str]] = {}
    for m in match_events(rules, events):
        found.setdefault(m.rule_id, []).append(m.event.record.key)
    assert sorted(found["contributions"]) == sorted([SEND, REPLY, LORDS, WRITTEN, OLD])
    assert sorted(found["send"]) == sorted([SEND, "1683412"])
    assert found["send-contributions"] == [SEND]
    assert found["written"] == [WRITTEN]
    assert sorted(found["aldridge"]) == sorted([REPLY, WRITTEN, OLD])
    assert found["lords"] == [LORDS]


# --- the command ---------------------------------------------------------------------------


def test_run_once_delivers_the_contribution_to_the_files_channel_once(
    tmp_path: Path, api: FakeHansardAPI
) -> None:
    outbox = tmp_path / "outbox"
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: hansard
    kind: hansard
    every: 15m
    base_url: {api.base_url}
    lookback_days: 3
    retries: 1
    backoff: 10ms
    timeout: 2s
    max_per_second: 20
channels:
  - id: files
    kind: files
    path: {outbox}
rules:
  - id: send-in-debate
    query: '"SEND workforce" type:contribution'
subscriptions:
  - rules: [send-in-debate]
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
    assert "Special Educational Needs: Workforce" in text
    assert SEND_LINK in text
    assert "Catherine Hale" in text
    assert "Open Parliament Licence" in text
    # The minister's reply is in the same debate but never says "SEND workforce".
    assert "400 educational psychologists" not in text

    api.clear_requests()
    second = watcher(path, "run", "--once", "--since", "2024-01-08")
    assert second.returncode == 0, second.stderr
    assert sorted(outbox.glob("*.eml")) == [eml]
    assert searches(api), "the second run listed the search again"
