"""The committee publications source against the fake Committees API (serving a recorded
response) over a real socket, parse_publication on its own, its records against golden
copies, and ``watcher run --once`` with a committees source."""

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

from watcher.config import CommitteePublicationsSourceConfig
from watcher.config import parse as parse_config
from watcher.errors import FetchError, ParseError
from watcher.match import Rule, match_events, parse
from watcher.model import Event, EventType, record_to_dict
from watcher.sources import SOURCES, open_source
from watcher.sources.committees import CommitteePublications, parse_publication
from watcher.testing.cli import watcher
from watcher.testing.fakecommittees import (
    PUBLICATIONS_PATH,
    FakeCommitteesAPI,
    load_publications,
)

UA = "watcher-tests/1"
REPORT = 46004  # First Report (Ofqual), 2024-12-13, HC 429, one inquiry
YOUTH, OAK, SKILLS = 46016, 46017, 46019  # letters, 2024-12-17
ESTIMATE = 45887  # 2024-12-10
DECEMBER = (date(2024, 12, 1), date(2024, 12, 31))
MID_DECEMBER = (date(2024, 12, 13), date(2024, 12, 17))
GOLDEN = Path(__file__).parent / "data" / "committees" / "publications.records.json"
REPORT_LINK = "https://committees.parliament.uk/publications/46004/documents/228742/default/"


def fixture(pid: int) -> dict[str, Any]:
    return copy.deepcopy(next(v for v in load_publications() if v["id"] == pid))


def other_committee(pid: int, like: int, house: str = "Lords") -> dict[str, Any]:
    """A copy of ``like`` published by another committee, of another House."""
    value = fixture(like)
    value["id"] = pid
    value["committee"].update(id=519, name="Public Services Committee", house=house)
    value["description"] = "Letter to the Minister on children's social care"
    return value


def config(base_url: str, **overrides: Any) -> CommitteePublicationsSourceConfig:
    settings: dict[str, Any] = {
        "id": "committees",
        "kind": "committee_publications",
        "base_url": base_url,
        "timeout": "2s",
        "backoff": "10ms",
        "retries": 1,
        "max_per_second": 20,
    }
    settings.update(overrides)
    return CommitteePublicationsSourceConfig(**settings)


@pytest.fixture
def api() -> Iterator[FakeCommitteesAPI]:
    with FakeCommitteesAPI.with_fixtures() as server:
        yield server


def listed(api: FakeCommitteesAPI, window: tuple[date, date], **overrides: Any) -> Any:
    src = CommitteePublications(config(api.base_url, **overrides), UA)
    try:
        return src.list(*window)
    finally:
        src.close()


def list_requests(api: FakeCommitteesAPI) -> list[dict[str, str]]:
    return [q for p, q in api.requests if p == PUBLICATIONS_PATH]


# --- config ------------------------------------------------------------------------------


def test_the_config_reads_with_every_committee_and_type_by_default() -> None:
    text = "sources:\n  - {id: c, kind: committee_publications, committees: [203]}\n"
    [s] = parse_config(text, "watcher.yaml", {}).sources
    assert isinstance(s, CommitteePublicationsSourceConfig)
    assert (s.base_url, s.committees, s.publication_types, s.houses) == (
        "https://committees-api.parliament.uk",
        (203,),
        (),
        ("Commons", "Lords", "Joint"),
    )


def test_a_committee_named_rather_than_numbered_is_refused() -> None:
    from watcher.errors import ConfigError

    text = "sources:\n  - {id: c, kind: committee_publications, committees: [education]}\n"
    with pytest.raises(ConfigError, match=r"sources\[0\]\.committees"):
        parse_config(text, "watcher.yaml", {})


# --- golden records ------------------------------------------------------------------------


def test_the_recorded_response_parses_to_the_golden_records() -> None:
    records = [record_to_dict(parse_publication(v, "committees")) for v in load_publications()]
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    assert records == json.loads(GOLDEN.read_text(encoding="utf-8"))


# --- list ----------------------------------------------------------------------------------


def test_lists_the_window_page_by_page_with_whole_records(api: FakeCommitteesAPI) -> None:
    listing = listed(api, DECEMBER, page_size=2)
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == sorted(
        str(p) for p in (REPORT, YOUTH, OAK, SKILLS, ESTIMATE)
    )
    assert all(e.record is not None for e in listing.entries)
    queries = list_requests(api)
    assert [(q["Skip"], q["Take"]) for q in queries] == [("0", "2"), ("2", "2"), ("4", "2")]
    assert all(q["StartDate"] == "2024-12-01" for q in queries)
    assert all("CommitteeId" not in q and "PublicationTypeIds" not in q for q in queries)


def test_the_last_day_of_the_window_counts_whatever_the_time_of_publication(
    api: FakeCommitteesAPI,
) -> None:
    # The letters were published at 10:15 on the 17th; the estimate on the 10th is outside.
    listing = listed(api, MID_DECEMBER)
    assert sorted(e.key for e in listing.entries) == sorted(
        str(p) for p in (REPORT, YOUTH, OAK, SKILLS)
    )


def test_committee_and_type_filters_are_sent_as_the_spec_names_them(
    api: FakeCommitteesAPI,
) -> None:
    api.add_publication(other_committee(47001, YOUTH))
    listing = listed(api, DECEMBER, committees=[203, 519], publication_types=[1, 3])
    assert listing.error is None
    assert sorted(e.key for e in listing.entries) == sorted(
        str(p) for p in (REPORT, YOUTH, OAK, SKILLS, 47001)
    )
    assert [p for p, _ in api.requests] == [PUBLICATIONS_PATH, PUBLICATIONS_PATH]
    assert [q["CommitteeId"] for q in list_requests(api)] == ["203", "519"]
    # An array parameter: the name once for each id, as ASP.NET binds it.
    assert all("PublicationTypeIds=1&PublicationTypeIds=3" in target for target in api.targets)


def test_a_type_filter_selects_only_that_type(api: FakeCommitteesAPI) -> None:
    listing = listed(api, DECEMBER, publication_types=[1])
    assert [e.key for e in listing.entries] == [str(REPORT)]


def test_houses_keep_only_their_committees_publications(api: FakeCommitteesAPI) -> None:
    api.add_publication(other_committee(47001, YOUTH, house="Lords"))
    api.add_publication(other_committee(47002, OAK, house="Joint"))
    lords = listed(api, DECEMBER, houses=["Lords", "Joint"])
    assert sorted(e.key for e in lords.entries) == ["47001", "47002"]


def test_a_failing_page_keeps_the_entries_listed_before_it(api: FakeCommitteesAPI) -> None:
    api.fail(times=10, status=503, endpoint="list", after=1)
    listing = listed(api, DECEMBER, page_size=2)
    assert isinstance(listing.error, FetchError)
    assert len(listing.entries) == 2


def test_an_unreadable_publication_is_its_own_error_and_names_the_field(
    api: FakeCommitteesAPI,
) -> None:
    broken = fixture(OAK)
    broken["type"]["name"] = ["Correspondence"]
    api.add_publication(broken)
    src = CommitteePublications(config(api.base_url), UA)
    try:
        listing = src.list(*DECEMBER)
        assert listing.error is None
        stale = [e for e in listing.entries if e.record is None]
        fetched = src.fetch(stale)
    finally:
        src.close()
    assert [e.key for e in stale] == [str(OAK)]
    assert sum(e.record is not None for e in listing.entries) == 4
    [(key, error)] = fetched.errors
    assert key == str(OAK)
    assert isinstance(error, ParseError)
    assert "type.name" in str(error)


def test_open_source_builds_a_committees_source_by_kind(api: FakeCommitteesAPI) -> None:
    assert "committee_publications" in SOURCES
    src = open_source(config(api.base_url, publication_types=[10]), UA)
    assert isinstance(src, CommitteePublications)
    try:
        listing = src.list(*DECEMBER)
    finally:
        src.close()
    assert [e.key for e in listing.entries] == [str(ESTIMATE)]


# --- parsing -------------------------------------------------------------------------------


def test_a_report_reads_with_its_committee_type_inquiry_and_paper() -> None:
    record = parse_publication(fixture(REPORT), "committees")
    assert record.url == REPORT_LINK
    assert record.day == date(2024, 12, 13)
    assert dict(record.facets) == {
        "committee": ("Education Committee", "203"),
        "category": ("Report", "1"),
        "house": ("Commons",),
    }
    plain = record.texts["text"].plain
    assert "Inquiry: Pre-appointment Hearing: Chief Regulator of Ofqual" in plain
    assert "Paper: HC 429" in plain
    [attachment] = record.attachments
    assert (attachment.title, attachment.file_type, attachment.size_bytes) == (
        "HC 429 - Pre-Appointment - Ofqual-online.pdf",
        "pdf",
        285691,
    )


def test_a_government_response_names_the_responding_department() -> None:
    value = fixture(YOUTH)
    value["type"].update(id=12, name="Government Response")
    value["respondingDepartment"] = {"id": 60, "name": "Department for Education"}
    record = parse_publication(value, "committees")
    assert record.facets["department"] == ("Department for Education", "60")


def test_only_web_links_become_attachments_and_the_document_address_fills_the_gaps() -> None:
    value = fixture(REPORT)
    value["documents"] = [
        {"documentId": 1, "files": [{"fileName": "a.pdf", "url": "javascript:alert(1)"}]},
        {"documentId": 2, "files": [{"fileName": "b.pdf", "url": "https://example.org/b.pdf"}]},
        {"documentId": 3, "files": [{"fileName": "c.pdf", "url": None}]},
    ]
    record = parse_publication(value, "committees")
    assert [a.url for a in record.attachments] == [
        "https://example.org/b.pdf",
        "https://committees.parliament.uk/publications/46004/documents/3/default/",
    ]
    assert record.url == "https://example.org/b.pdf"


def test_without_documents_a_publication_links_to_its_web_version_or_its_committee() -> None:
    value = fixture(REPORT)
    value["documents"] = []
    assert parse_publication(value, "committees").url == (
        "https://publications.parliament.uk/pa/cm5901/cmselect/cmeduc/429/report.html"
    )
    value["additionalContentUrl"] = None
    assert parse_publication(value, "committees").url == (
        "https://committees.parliament.uk/committee/203/publications/"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None}, "id"),
        ({"id": "46004"}, "id"),
        ({"publicationStartDate": None}, "publicationStartDate"),
        ({"publicationStartDate": "soon"}, "publicationStartDate"),
        ({"description": 5}, "description"),
        ({"committee": {"id": "203"}}, "id"),
        ({"committee": {"id": 203, "name": 1}}, "committee.name"),
        ({"type": {"id": 1, "name": ["Report"]}}, "type.name"),
        ({"documents": [{"files": [{"url": 3}]}]}, "documents[0].files[0].url"),
        ({"businesses": [{"title": 8}]}, "businesses[0].title"),
    ],
)
def test_malformed_values_name_the_field(changes: dict[str, Any], field: str) -> None:
    value = fixture(REPORT)
    value.update(changes)
    with pytest.raises(ParseError, match=re.escape(field)):
        parse_publication(value, "committees")


def test_committee_and_type_rules_select_publications() -> None:
    records = [parse_publication(v, "committees") for v in load_publications()]
    other = parse_publication(other_committee(47001, YOUTH), "committees")
    events = [Event(EventType.PUBLISHED, r) for r in (*records, other)]
    rules = [
        Rule("education", parse("committee:education")),
        Rule("education-id", parse("committee:203")),
        Rule("reports", parse("category:report type:publication")),
        Rule("ofqual", parse("Ofqual committee:education")),
        Rule("publications", parse("type:publication")),
    ]
    found: dict[str, list[str]] = {}
    for m in match_events(rules, events):
        found.setdefault(m.rule_id, []).append(m.event.record.key)
    education = sorted(str(p) for p in (REPORT, YOUTH, OAK, SKILLS, ESTIMATE))
    assert sorted(found["education"]) == education
    assert sorted(found["education-id"]) == education
    assert found["reports"] == [str(REPORT)]
    assert sorted(found["ofqual"]) == sorted([str(REPORT), str(ESTIMATE)])
    assert sorted(found["publications"]) == sorted([*education, "47001"])


# --- the command ---------------------------------------------------------------------------


def test_run_once_delivers_the_publication_to_the_files_channel_once(
    tmp_path: Path, api: FakeCommitteesAPI
) -> None:
    outbox = tmp_path / "outbox"
    path = tmp_path / "watcher.yaml"
    path.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
sources:
  - id: committees
    kind: committee_publications
    every: 15m
    base_url: {api.base_url}
    committees: [203]
    retries: 1
    backoff: 10ms
    timeout: 2s
    max_per_second: 20
channels:
  - id: files
    kind: files
    path: {outbox}
rules:
  - id: education-reports
    query: 'category:report committee:education'
subscriptions:
  - rules: [education-reports]
    channel: files
    digest: immediate
""")
    first = watcher(path, "run", "--once", "--since", "2024-12-01")
    assert first.returncode == 0, first.stderr
    [eml] = sorted(outbox.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Appointment of Sir Ian Bauckham CBE" in text
    assert REPORT_LINK in text
    assert "Education Committee" in text
    assert "Open Parliament Licence" in text
    assert "National Youth Strategy" not in text  # a letter, not a report

    api.clear_requests()
    second = watcher(path, "run", "--once", "--since", "2024-12-01")
    assert second.returncode == 0, second.stderr
    assert sorted(outbox.glob("*.eml")) == [eml]
    assert list_requests(api), "the second run listed the publications again"
