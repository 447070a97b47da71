"""``watcher test-rule``: backtesting a rule over stored history.

The central promise is that a backtest finds EXACTLY what the live matcher finds: the full-text
index may only narrow the search, never decide it. The agreement tests commit a corpus (the
recorded and synthetic API fixtures, fetched through the real source from the fake API, plus
synthetic records with awkward words) to each store backend and compare, query by query, the
backtest's keys with the keys the matcher accepts when applied to every stored record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from watcher import backtest
from watcher.config import ParliamentSourceConfig
from watcher.match import Document, match_document, parse
from watcher.model import Record, Status, Text
from watcher.sources import open_source
from watcher.store import Store, open_store
from watcher.testing.fakeapi import FakeParliamentAPI

AT = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
SRC = "wq"


def rec(
    key: str,
    answer: str,
    *,
    title: str = "Schools",
    question: str = "What steps is the Department taking?",
    answered: date = date(2024, 1, 15),
    house: str = "Commons",
    source: str = SRC,
) -> Record:
    return Record(
        source=source,
        key=key,
        kind="written_question",
        title=title,
        url=f"https://questions.example/{key}",
        status=Status.ANSWERED,
        house=house,
        uin=f"U{key}",
        department="Department for Education",
        question=Text(f"<p>{question}</p>", question),
        answer=Text(f"<p>{answer}</p>", answer),
        date_tabled=answered - timedelta(days=7),
        date_answered=answered,
    )


LONG_WORD = "pneumono" + "x" * 300
SYNTHETIC = [
    rec("s1", "We will send the guidance to every school."),
    rec("s2", "The SEND workforce is growing; SEND-workforce planning continues."),
    rec("s3", "The workforce's training and other workforces.", answered=date(2024, 1, 3)),
    rec("s4", "Speech and language therapists support EHCPs; ehcps in lower case."),
    rec("s5", "Die Straße and the ﬁnance office; a nai\u0308ve view.", title="Überblick"),
    rec("s6", "Workforce planning for teachers.", answered=date(2023, 12, 20)),
    rec("s7", "Lecturers and teachers alike.", house="Lords", answered=date(2024, 1, 9)),
    rec("s8", f"A {LONG_WORD} case.", answered=date(2023, 6, 1)),
    rec("s9", "Nothing relevant here at all.", title="Special educational needs"),
    rec("s10", "Policy on 教育 and the Σχολείο on ΟΔΟΣ Αθηνάς."),
    rec("s11", "SEND pupils need a bigger workforce.", title="SEND workforce"),
    rec("o1", "The SEND workforce elsewhere.", source="other"),
]

QUERIES = [
    "SEND",
    "send",
    '"SEND workforce"',
    "workforce",
    "workforces",
    "therap*",
    "EHCP*",
    "teachers OR lecturers",
    "workforce NOT planning",
    "strasse",
    "Straße",
    "finance",
    "naive",
    "naïve",
    "house:lords",
    'heading:"special educational needs"',
    "(SEND OR school) AND NOT guidance",
    LONG_WORD,
    "pneumono*",
    "教育",
    "σχολειο",
    "οδος",  # final sigma: casefolding, not lower-casing, makes it match ΟΔΟΣ
    "SEND workforce",  # implicit AND: the index needs a word of each side
    "SEND NEAR/3 workforce",
    "zyzzyva",
]


def fixture_records() -> list[tuple[Record, str]]:
    """Every fixture question, fetched through the real source from the fake API."""
    with FakeParliamentAPI.with_fixtures() as api:
        config = ParliamentSourceConfig(
            id=SRC,
            kind="parliament_written_questions",
            base_url=api.base_url,
            retries=0,
            max_per_second=20,
        )
        source = open_source(config, "tests")
        try:
            listing = source.list(date(2024, 1, 1), date(2024, 1, 31))
            assert listing.error is None
            fetched = source.fetch(listing.entries)
        finally:
            source.close()
    assert not fetched.errors
    assert len(fetched.records) >= 20
    return list(fetched.records)


@pytest.fixture(scope="module")
def fixtures() -> list[tuple[Record, str]]:
    return fixture_records()


@pytest.fixture
def corpus(store: Store, fixtures: list[tuple[Record, str]]) -> list[Record]:
    store.commit_records(SRC, fixtures, AT)
    store.commit_records(SRC, [(r, "listed") for r in SYNTHETIC if r.source == SRC], AT)
    store.commit_records("other", [(r, "listed") for r in SYNTHETIC if r.source == "other"], AT)
    return [r for r, _ in fixtures] + SYNTHETIC


def live(query: str, records: list[Record], source: str | None = None) -> set[tuple[str, str]]:
    """What the live matcher accepts, applied to every record without any index."""
    q = parse(query)
    return {
        (r.source, r.key)
        for r in records
        if (source is None or r.source == source)
        and match_document(q, Document.from_record(r)) is not None
    }


def test_backtest_finds_exactly_what_the_live_matcher_finds(
    store: Store, corpus: list[Record]
) -> None:
    disagreements = {}
    for query in QUERIES:
        result = backtest.search(store, parse(query), newest=3)
        found = {(c.source, c.key) for c in result.matched}
        expected = live(query, corpus)
        if found != expected:
            disagreements[query] = {"missed": expected - found, "extra": found - expected}
        assert result.candidates >= len(result.matched)
    assert disagreements == {}
    assert any(live(query, corpus) for query in QUERIES)


def test_the_index_narrows_the_search_and_agrees_per_source(
    store: Store, corpus: list[Record]
) -> None:
    result = backtest.search(store, parse('"SEND workforce"'), source=SRC)
    assert {(c.source, c.key) for c in result.matched} == live('"SEND workforce"', corpus, SRC)
    assert ("other", "o1") not in {(c.source, c.key) for c in result.matched}
    # Only the records holding "workforce" were read and matched, not the whole corpus.
    assert len(result.matched) <= result.candidates < len(corpus) // 2
    both = backtest.search(store, parse("SEND AND workforce"), source=SRC)
    alone = backtest.search(store, parse("workforce"), source=SRC)
    assert both.candidates < alone.candidates  # records with "workforce" but no "send" are out
    # A phrase needs its words next to each other in one field: s11 has both words in its
    # answer but apart, and the phrase only in its heading.
    assert "s11" in {c.key for c in both.matched}
    assert {c.key for c in result.matched} == {"1683412", "1690002", "s2", "s11"}
    assert result.candidates == len(result.matched)


def test_required_words_take_every_part_that_must_match() -> None:
    def texts(query: str) -> set[frozenset[str]]:
        groups = backtest.required_words(parse(query).ast)
        return {frozenset(w.text for w in group) for group in groups}

    assert texts('"SEND workforce" AND -statistics') == {
        frozenset({"send_workforce"}),  # the two words next to each other in one field
        frozenset({"send"}),
        frozenset({"workforce"}),
    }
    assert texts("pupils AND heading:tribunal") == texts("pupils") | texts("tribunal")
    assert texts("therap* NEAR/5 EHCP") == {frozenset({"therap"}), frozenset({"ehcp"})}
    [either] = texts("teachers OR lecturers")  # one group: either side will do
    assert {"teachers", "lecturers"} <= either
    assert texts("house:lords") == set()
    # Inflected last word: every pair of forms; a wildcard ends a pair as a prefix.
    assert frozenset({"send_workforce", "send_workforces"}) in texts("SEND-workforce")
    # At most three groups, the most selective-looking first.
    assert len(texts('"the speech and language therapists"')) == 3


def test_newest_matches_come_first_with_the_live_hits(store: Store, corpus: list[Record]) -> None:
    query = parse("workforce")
    result = backtest.search(store, query, newest=2)
    days = result.days
    assert days == sorted(days, reverse=True)
    assert len(result.newest) == 2
    for example, candidate in zip(result.newest, result.matched, strict=False):
        assert (example.record.source, example.record.key) == (candidate.source, candidate.key)
        assert example.hits == match_document(query, Document.from_record(example.record))


def test_since_applies_to_the_latest_date_of_each_item(store: Store, corpus: list[Record]) -> None:
    result = backtest.search(store, parse("workforce"), since=date(2024, 1, 1))
    keys = {c.key for c in result.matched}
    assert "s3" in keys  # answered 2024-01-03
    assert "s6" not in keys  # answered 2023-12-20
    assert all(c.day >= date(2024, 1, 1) for c in result.matched)


def test_the_index_follows_the_current_version(store: Store) -> None:
    first = rec("k1", "The tribunal heard the appeal.")
    store.commit_records(SRC, [(first, "v1")], AT)
    assert [c.key for c in backtest.search(store, parse("tribunal")).matched] == ["k1"]

    second = rec("k1", "Mediation resolved the appeal.", answered=date(2024, 1, 20))
    store.commit_records(SRC, [(second, "v2")], AT.replace(hour=13))
    assert backtest.search(store, parse("tribunal")).matched == ()
    [found] = backtest.search(store, parse("mediation")).matched
    assert (found.key, found.day) == ("k1", date(2024, 1, 20))

    # A poll that started earlier but committed late does not roll the record back, nor the
    # index with it.
    store.commit_records(SRC, [(first, "v1")], AT)
    assert backtest.search(store, parse("tribunal")).matched == ()
    assert store.current(SRC, ["k1"])["k1"] == second


# --- figures, plain values ---------------------------------------------------------------------


def test_weekly_counts_iso_weeks_and_keeps_the_empty_ones_between() -> None:
    days = [date(2020, 12, 28), date(2021, 1, 3), date(2021, 1, 4), date(2021, 1, 20)]
    weeks = backtest.weekly(days)
    assert [(w.label, w.count) for w in weeks] == [
        ("2020-W53", 2),  # Monday 28 Dec to Sunday 3 Jan
        ("2021-W01", 1),
        ("2021-W02", 0),
        ("2021-W03", 1),
    ]
    assert backtest.weekly([]) == []


def test_estimates_count_items_days_and_weeks() -> None:
    days = [date(2024, 1, 15), date(2024, 1, 15), date(2024, 1, 16), date(2024, 1, 22)]
    assert backtest.estimates(days) == backtest.Estimates(immediate=4, daily=3, weekly=2)
    assert backtest.estimates([]) == backtest.Estimates(0, 0, 0)


def test_since_takes_days_weeks_or_a_date() -> None:
    today = date(2024, 3, 31)
    assert backtest.parse_since("90d", today) == date(2024, 1, 1)
    assert backtest.parse_since("2w", today) == date(2024, 3, 17)
    assert backtest.parse_since("2024-01-15", today) == date(2024, 1, 15)
    with pytest.raises(ValueError, match="90d"):
        backtest.parse_since("three months", today)


def test_snippet_shows_the_hit_in_context_on_one_line() -> None:
    text = "a " * 50 + "so the SEND\nworkforce plan is set " + "b " * 50
    start = text.index("SEND")
    line = backtest.snippet(text, [(start, start + len("SEND\nworkforce"))], context=10)
    assert line == "…a so the [SEND workforce] plan is…"  # cut between words
    assert backtest.snippet("SEND now", [(0, 4)]) == "[SEND] now"
    assert backtest.snippet("x" * 30 + "SEND" + "y" * 30, [(30, 34)], 5) == "…xxxxx[SEND]yyyyy…"


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "w.db"
    store = open_store(f"sqlite:///{db}")
    store.migrate()
    store.commit_records(SRC, [(r, "listed") for r in SYNTHETIC if r.source == SRC], AT)
    store.close()
    path = tmp_path / "watcher.yaml"
    path.write_text(
        f"store: sqlite:///{db}\ndata_dir: {tmp_path}/data\n"
        'synonyms:\n  SEN: ["special educational needs", "SEND"]\n'
    )
    return path


def test_rule(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "test-rule", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


test_rule.__test__ = False  # type: ignore[attr-defined]


def test_command_prints_counts_weeks_cadences_and_snippets(config: Path) -> None:
    result = test_rule(config, "workforce", "--newest", "1")
    assert result.returncode == 0, result.stderr
    full, half = "#" * 40, "#" * 20 + " " * 20
    # s6 answered 2023-12-20, s3 2024-01-03, s2 and s11 2024-01-15.
    assert result.stdout == "\n".join(
        [
            "query: workforce",
            "searched: every source, all dates",
            "candidates from the index: 4",
            "matches: 4",
            "",
            "matches per ISO week:",
            f"  2023-W51  {half}  1",
            f"  2023-W52  {' ' * 40}  0",
            f"  2024-W01  {half}  1",
            f"  2024-W02  {' ' * 40}  0",
            f"  2024-W03  {full}  2",
            "",
            "digests a subscription would have received:",
            "  immediate  4  (one per matching item)",
            "  daily      3  (days with a match)",
            "  weekly     3  (ISO weeks with a match)",
            "",
            "newest 1 of 4:",
            "  2024-01-15  Schools",
            "      wq s2  https://questions.example/s2",
            "      answer: The SEND [workforce] is growing; SEND-[workforce] planning continues.",
            "",
        ]
    )


def test_command_json_is_machine_readable(config: Path) -> None:
    result = test_rule(config, '"SEND workforce"', "--json", "--since", "2024-01-10")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["matches"] == 2
    assert report["since"] == "2024-01-10"
    assert report["digests"] == {"immediate": 2, "daily": 1, "weekly": 1}
    assert report["weeks"] == [{"week": "2024-W03", "count": 2}]
    assert [m["key"] for m in report["matched"]] == ["s2", "s11"]
    first = report["newest"][0]
    assert (first["key"], first["day"], first["title"]) == ("s2", "2024-01-15", "Schools")
    assert first["hits"][0]["field"] == "answer"
    assert first["snippets"] == [
        "answer: The [SEND workforce] is growing; [SEND-workforce] planning continues."
    ]


def test_command_knows_the_configs_synonym_sets(config: Path) -> None:
    result = test_rule(config, "~SEN", "--json")
    assert result.returncode == 0, result.stderr
    # s2 and s11 say SEND; s9's heading is "Special educational needs".
    assert {m["key"] for m in json.loads(result.stdout)["matched"]} == {"s2", "s9", "s11"}


def test_command_exits_2_with_the_position_of_a_bad_query_or_since(config: Path) -> None:
    result = test_rule(config, 'SEND AND "workforce')
    assert result.returncode == 2
    assert "position 9" in result.stderr
    assert result.stdout == ""
    result = test_rule(config, "SEND", "--since", "lately")
    assert result.returncode == 2
    assert "--since" in result.stderr
