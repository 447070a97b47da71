"""``watcher test-rule``: backtesting a rule over stored history.

The central promise is that a backtest finds EXACTLY what the live matcher finds: the full-text
index may only narrow the search, never decide it. The agreement tests commit a corpus (the
recorded and synthetic API fixtures, fetched through the real source from the fake API, plus
synthetic records with awkward words) to each store backend and compare, query by query, the
backtest's keys with the keys the matcher accepts when applied to every stored record.

The second promise is that its counts are what a subscription would have been sent: one alert
per event of a matching item's life that the rule wants (``diff.life_events``), in the window.
The command is run as a user runs it, in a subprocess, over a store filled by a real backfill.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from watcher import backtest, backtest_report
from watcher.config import ParliamentSourceConfig
from watcher.diff import LifeEvent
from watcher.kinds.questions import revise, written_question
from watcher.match import Document, match_document, parse
from watcher.model import EventType, Record, Status, Text
from watcher.sources import open_source
from watcher.store import Store, open_store
from watcher.store.base import StoredSpan
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
    return written_question(
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
    result = backtest.search(store, parse('"SEND workforce"'), sources=[SRC])
    assert {(c.source, c.key) for c in result.matched} == live('"SEND workforce"', corpus, SRC)
    assert ("other", "o1") not in {(c.source, c.key) for c in result.matched}
    # Only the records holding "workforce" were read and matched, not the whole corpus.
    assert len(result.matched) <= result.candidates < len(corpus) // 2
    both = backtest.search(store, parse("SEND AND workforce"), sources=[SRC])
    alone = backtest.search(store, parse("workforce"), sources=[SRC])
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


def test_the_newest_alerted_items_come_first_with_the_live_hits(
    store: Store, corpus: list[Record]
) -> None:
    query = parse("workforce")
    result = backtest.search(store, query, newest=2)
    days = [a.day for a in result.alerted]
    assert days == sorted(days, reverse=True)
    assert len(result.newest) == 2
    for example, alerted in zip(result.newest, result.alerted, strict=False):
        assert (example.record.source, example.record.key) == (alerted.source, alerted.key)
        assert (example.day, example.events) == (alerted.day, alerted.events)
        assert example.hits == match_document(query, Document.from_record(example.record))


def test_since_applies_to_the_day_of_each_event(store: Store, corpus: list[Record]) -> None:
    answers = backtest.search(store, parse("workforce"), since=date(2024, 1, 1))
    keys = {a.key for a in answers.alerted}
    assert "s3" in keys  # answered 2024-01-03
    assert "s6" not in keys  # answered 2023-12-20
    assert all(e.day >= date(2024, 1, 1) for a in answers.alerted for e in a.events)
    # s3 was tabled on 2023-12-27: it matches in the window, but its tabling is before it.
    tablings = backtest.search(
        store, parse("workforce"), events={EventType.TABLED}, since=date(2024, 1, 1)
    )
    assert "s3" in {c.key for c in tablings.matched}
    assert "s3" not in {a.key for a in tablings.alerted}


def life(key: str, status: Status, *, source: str = SRC, **dates: date | bool) -> Record:
    """A record saying "tribunal", with the status and dates of its life."""
    base = rec(key, "The tribunal heard the appeal.", source=source)
    undated: dict[str, date | bool | None] = {"date_tabled": None, "date_answered": None}
    return revise(base, status=status, **{**undated, **dates})  # type: ignore[arg-type]


JAN = [date(2024, 1, d) for d in range(1, 32)]
JAN.insert(0, date(2023, 12, 31))  # JAN[8] is 8 January 2024
LIVES = [
    life("answered", Status.ANSWERED, date_tabled=JAN[2], date_answered=JAN[9]),
    life("holding", Status.HOLDING, date_tabled=JAN[3], date_holding=JAN[20]),
    life(
        "after-holding",
        Status.ANSWERED,
        date_tabled=JAN[3],
        date_holding=JAN[10],
        date_answered=JAN[17],
    ),
    life(
        "corrected",
        Status.ANSWERED,
        date_tabled=JAN[4],
        date_answered=JAN[11],
        date_corrected=JAN[25],
        is_correction=True,
    ),
    life("tabled", Status.TABLED, date_tabled=JAN[22]),
    life("withdrawn", Status.WITHDRAWN, date_tabled=JAN[5]),
    life("elsewhere", Status.ANSWERED, source="other", date_tabled=JAN[2], date_answered=JAN[26]),
]


@pytest.fixture
def lives(store: Store) -> Store:
    store.commit_records(SRC, [(r, "listed") for r in LIVES if r.source == SRC], AT)
    store.commit_records("other", [(r, "listed") for r in LIVES if r.source == "other"], AT)
    return store


def alerts(result: backtest.Backtest) -> dict[str, list[tuple[str, int]]]:
    """Each alerted item's alerts, as (event, day of January)."""
    return {a.key: [(e.type.value, e.day.day) for e in a.events] for a in result.alerted}


def test_alerts_are_the_events_of_each_items_life_that_the_rule_wants(lives: Store) -> None:
    tribunal = parse("tribunal")
    result = backtest.search(lives, tribunal)  # a rule's default events: answered, corrected
    assert result.events == (EventType.ANSWERED, EventType.CORRECTED)
    assert alerts(result) == {
        "elsewhere": [("answered", 26)],
        "corrected": [("answered", 11), ("corrected", 25)],
        "after-holding": [("answered", 17)],
        "answered": [("answered", 9)],
    }
    assert list(alerts(result)) == ["elsewhere", "corrected", "after-holding", "answered"]
    # Every matching item is matched; only those with an event the rule wants alert.
    assert len(result.matched) == len(LIVES)
    assert result.alerts == 5
    assert sorted(result.alert_days) == [JAN[9], JAN[11], JAN[17], JAN[25], JAN[26]]
    assert [(e.record.key, e.day, e.events) for e in result.newest[:2]] == [
        ("elsewhere", JAN[26], (LifeEvent(EventType.ANSWERED, JAN[26]),)),
        (
            "corrected",
            JAN[25],  # its latest alert
            (LifeEvent(EventType.ANSWERED, JAN[11]), LifeEvent(EventType.CORRECTED, JAN[25])),
        ),
    ]
    every = backtest.search(lives, tribunal, events=set(EventType), sources=[SRC])
    assert alerts(every)["holding"] == [("tabled", 3), ("holding", 20)]
    assert alerts(every)["withdrawn"] == [("tabled", 5), ("withdrawn", 5)]
    assert alerts(every)["tabled"] == [("tabled", 22)]
    assert "elsewhere" not in alerts(every)
    assert every.alerts == 13
    assert every.stored is None  # something was alerted: no need to look at the store


def test_since_keeps_a_holding_answer_given_after_the_items_day(lives: Store) -> None:
    # The "holding" item's day is its tabled date (3 January): it has no answered date.
    # Its holding answer came on the 20th, in the window.
    tribunal = parse("tribunal")
    holding = backtest.search(lives, tribunal, events={EventType.HOLDING}, since=JAN[15])
    assert alerts(holding) == {"holding": [("holding", 20)]}
    assert "holding" in {c.key for c in holding.matched}
    answers = backtest.search(lives, tribunal, since=JAN[15])
    assert set(alerts(answers)) == {"elsewhere", "corrected", "after-holding"}
    assert alerts(answers)["corrected"] == [("corrected", 25)]  # its answer came before
    assert "holding" not in {c.key for c in answers.matched}


def test_several_sources_are_searched_together_in_order(lives: Store) -> None:
    both = backtest.search(lives, parse("tribunal"), sources=["other", SRC])
    assert both.sources == ("other", SRC)
    assert list(alerts(both)) == ["elsewhere", "corrected", "after-holding", "answered"]
    days = [c.day for c in both.matched]
    assert days == sorted(days, reverse=True)
    alone = backtest.search(lives, parse("tribunal"), sources=[SRC])
    assert "elsewhere" not in alerts(alone)
    assert backtest.search(lives, parse("tribunal"), sources=[]).matched == ()


def test_an_empty_window_reads_how_much_is_stored_and_says_how_to_fill_it(lives: Store) -> None:
    today = date(2024, 6, 30)
    late = backtest.search(lives, parse("tribunal"), since=date(2024, 3, 1))
    assert late.alerted == ()
    assert late.empty
    assert late.stored == StoredSpan(len(LIVES), JAN[3], JAN[26])  # "holding": its tabled day
    assert backtest_report.backfill_commands(late, today, "my conf/w.yaml") == [
        "watcher --config 'my conf/w.yaml' backfill --since 2024-03-01"
    ]
    assert backtest_report.empty_note(late) == (
        "the store holds no item from 2024-03-01 on; the newest is from 2024-01-26"
    )
    nothing = backtest.search(lives, parse("tribunal"), sources=["new", "old"])
    assert nothing.stored == StoredSpan(0, None, None)
    assert nothing.empty
    assert backtest_report.backfill_commands(nothing, today) == [
        "watcher backfill --since 2024-04-01 --source new",  # 90 days back
        "watcher backfill --since 2024-04-01 --source old",
    ]
    assert backtest_report.empty_note(nothing) == "the store holds no item of sources new, old yet"
    # Items in the window but none alerted: the window is not empty, nothing to fill.
    quiet = backtest.search(lives, parse("tribunal"), events={EventType.TABLED}, since=JAN[23])
    assert quiet.alerted == ()
    assert not quiet.empty
    assert backtest_report.backfill_commands(quiet, today) == []


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
    weeks = backtest_report.weekly(days)
    assert [(w.label, w.count) for w in weeks] == [
        ("2020-W53", 2),  # Monday 28 Dec to Sunday 3 Jan
        ("2021-W01", 1),
        ("2021-W02", 0),
        ("2021-W03", 1),
    ]
    assert backtest_report.weekly([]) == []


def test_estimates_count_alerts_days_and_weeks() -> None:
    days = [date(2024, 1, 15), date(2024, 1, 15), date(2024, 1, 16), date(2024, 1, 22)]
    assert backtest_report.estimates(days) == backtest_report.Estimates(
        immediate=4, daily=3, weekly=2
    )
    assert backtest_report.estimates([]) == backtest_report.Estimates(0, 0, 0)


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
    line = backtest_report.snippet(text, [(start, start + len("SEND\nworkforce"))], context=10)
    assert line == "…a so the [SEND workforce] plan is…"  # cut between words
    assert backtest_report.snippet("SEND now", [(0, 4)]) == "[SEND] now"
    assert (
        backtest_report.snippet("x" * 30 + "SEND" + "y" * 30, [(30, 34)], 5) == "…xxxxx[SEND]yyyyy…"
    )


# --- the command ---------------------------------------------------------------------------------

SOURCES_YAML = """sources:
  - {{id: wq, kind: parliament_written_questions, base_url: "{url}", retries: 0,
      max_per_second: 20}}
  - {{id: other, kind: parliament_written_questions, base_url: "{url}"}}
"""
RULES_YAML = """synonyms:
  SEN: ["special educational needs", "SEND"]
rules:
  - id: send-answers
    query: '"SEND workforce"'
  - id: send-tabled-here
    query: '"SEND workforce"'
    events: [tabled, holding]
    sources: [wq]
"""


def write_config(tmp_path: Path, url: str = "http://127.0.0.1:9") -> Path:
    """A config with two sources, synonyms and two rules; the store is ``w.db`` beside it."""
    path = tmp_path / "watcher.yaml"
    path.write_text(
        f"store: sqlite:///{tmp_path / 'w.db'}\ndata_dir: {tmp_path}/data\n"
        + SOURCES_YAML.format(url=url)
        + RULES_YAML
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The synthetic records in a store, both sources' (nothing is fetched)."""
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    store.migrate()
    store.commit_records(SRC, [(r, "listed") for r in SYNTHETIC if r.source == SRC], AT)
    store.commit_records("other", [(r, "listed") for r in SYNTHETIC if r.source == "other"], AT)
    store.close()
    return write_config(tmp_path)


def test_rule(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "test-rule", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


test_rule.__test__ = False  # type: ignore[attr-defined]


def report(config: Path, *args: str) -> dict[str, Any]:
    result = test_rule(config, *args, "--json")
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_command_prints_counts_weeks_cadences_and_snippets(config: Path) -> None:
    result = test_rule(config, "workforce", "--newest", "1", "--source", "wq")
    assert result.returncode == 0, result.stderr
    full, half = "#" * 40, "#" * 20 + " " * 20
    # s6 answered 2023-12-20, s3 2024-01-03, s2 and s11 2024-01-15: one alert each.
    assert result.stdout == "\n".join(
        [
            "query: workforce",
            "events: answered, corrected",
            "searched: source wq, all dates",
            "candidates from the index: 4",
            "items matched: 4",
            "items alerted: 4",
            "alerts: 4",
            "",
            "alerts per ISO week:",
            f"  2023-W51  {half}  1",
            f"  2023-W52  {' ' * 40}  0",
            f"  2024-W01  {half}  1",
            f"  2024-W02  {' ' * 40}  0",
            f"  2024-W03  {full}  2",
            "",
            "digests a subscription would have received:",
            "  immediate  4  (one per alert)",
            "  daily      3  (days with an alert)",
            "  weekly     3  (ISO weeks with an alert)",
            "",
            "newest 1 of 4:",
            "  2024-01-15  Schools",
            "      answered 2024-01-15",
            "      wq s2  https://questions.example/s2",
            "      answer: The SEND [workforce] is growing; SEND-[workforce] planning continues.",
            "",
        ]
    )


def test_command_json_is_machine_readable(config: Path) -> None:
    found = report(
        config, '"SEND workforce"', "--events", "tabled,answered", "--since", "2024-01-10"
    )
    assert (found["query"], found["rule"], found["sources"]) == ('"SEND workforce"', None, None)
    assert (found["events"], found["since"]) == (["tabled", "answered"], "2024-01-10")
    # s2, s11 and o1 were tabled on 2024-01-08, before the window, and answered on the 15th.
    assert (found["matches"], found["items"], found["alerts"]) == (3, 3, 3)
    assert found["digests"] == {"immediate": 3, "daily": 1, "weekly": 1}
    assert found["weeks"] == [{"week": "2024-W03", "count": 3}]
    assert [m["key"] for m in found["matched"]] == ["o1", "s2", "s11"]
    assert found["alerted"][0] == {
        "source": "other",
        "key": "o1",
        "day": "2024-01-15",
        "events": [{"type": "answered", "day": "2024-01-15"}],
    }
    first = found["newest"][1]
    assert (first["key"], first["day"], first["title"]) == ("s2", "2024-01-15", "Schools")
    assert first["events"] == [{"type": "answered", "day": "2024-01-15"}]
    assert first["hits"][0]["field"] == "answer"
    assert first["snippets"] == [
        "answer: The [SEND workforce] is growing; [SEND-workforce] planning continues."
    ]
    assert (found["stored"], found["empty"], found["backfill"]) == (None, False, [])
    every_day = report(config, '"SEND workforce"', "--events", "tabled,answered")
    assert every_day["alerts"] == 6  # tabled on the 8th, answered on the 15th, each of three
    assert every_day["digests"] == {"immediate": 6, "daily": 2, "weekly": 2}


def test_command_knows_the_configs_synonym_sets(config: Path) -> None:
    # s2 and s11 say SEND; s9's heading is "Special educational needs"; o1 is elsewhere.
    assert {m["key"] for m in report(config, "~SEN", "--source", "wq")["matched"]} == {
        "s2",
        "s9",
        "s11",
    }


def test_command_tests_a_configured_rule_with_its_events_and_sources(config: Path) -> None:
    answers = report(config, "--rule", "send-answers")
    assert (answers["rule"], answers["query"]) == ("send-answers", '"SEND workforce"')
    assert (answers["events"], answers["sources"]) == (["answered", "corrected"], None)
    assert {a["key"] for a in answers["alerted"]} == {"s2", "s11", "o1"}
    here = report(config, "--rule", "send-tabled-here")
    assert (here["events"], here["sources"]) == (["tabled", "holding"], ["wq"])
    assert {(a["key"], a["day"]) for a in here["alerted"]} == {
        ("s2", "2024-01-08"),
        ("s11", "2024-01-08"),
    }
    text = test_rule(config, "--rule", "send-tabled-here", "--newest", "1").stdout
    assert text.startswith('query: "SEND workforce"\nrule: send-tabled-here\n')
    assert "events: tabled, holding\nsearched: source wq, all dates\n" in text
    assert "      tabled 2024-01-08\n" in text


def test_command_tells_an_empty_window_and_the_backfill_that_fills_it(config: Path) -> None:
    result = test_rule(config, "--rule", "send-tabled-here", "--since", "2024-06-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "alerts: 0\n\n"
        "the store holds no item of source wq from 2024-06-01 on; the newest is from 2024-01-15\n"
        "to fill it, run:\n"
        f"  watcher --config {config} backfill --since 2024-06-01 --source wq\n"
    )
    found = report(config, "SEND", "--since", "2024-06-01")
    assert found["empty"] is True
    assert found["stored"] == {"count": 12, "first_day": "2023-06-01", "last_day": "2024-01-15"}
    assert found["backfill"] == [f"watcher --config {config} backfill --since 2024-06-01"]


def test_command_on_an_empty_store_says_nothing_is_stored_yet(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = datetime.now(UTC).date()
    result = test_rule(config, '"SEND workforce"')
    after = datetime.now(UTC).date()
    assert result.returncode == 0, result.stderr
    assert "\nthe store holds no item yet\nto fill it, run:\n" in result.stdout
    # 90 days back, in the config's timezone (Europe/London: within a day of UTC).
    suggested = {
        f"  watcher --config {config} backfill --since {d - timedelta(days=90)}\n"
        for d in (before - timedelta(days=1), before, after, after + timedelta(days=1))
    }
    assert any(result.stdout.endswith(line) for line in suggested)


FILL = ("--since", "2024-01-08", "--until", "2024-01-15", "--source", "wq")


def test_command_counts_what_the_default_subscription_was_sent_from_a_real_backfill(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    config = write_config(tmp_path, api.base_url)
    filled = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "backfill", *FILL],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert filled.returncode == 0, filled.stderr
    # Two items say "SEND workforce": the seed question, answered on the 15th, and a Lords
    # question with only a holding answer, which a rule wanting answers was never sent.
    found = report(config, '"SEND workforce"')
    assert {m["key"] for m in found["matched"]} == {"1683412", "1690002"}
    assert (found["items"], found["alerts"]) == (1, 1)
    assert found["alerted"] == [
        {
            "source": "wq",
            "key": "1683412",
            "day": "2024-01-15",
            "events": [{"type": "answered", "day": "2024-01-15"}],
        }
    ]
    assert found["digests"] == {"immediate": 1, "daily": 1, "weekly": 1}
    holding = report(config, '"SEND workforce"', "--events", "holding")
    assert [(a["key"], a["events"]) for a in holding["alerted"]] == [
        ("1690002", [{"type": "holding", "day": "2024-01-15"}])
    ]
    tabled = report(config, "--rule", "send-tabled-here")
    assert tabled["alerts"] == 3  # both tabled on the 8th, and the holding answer
    assert report(config, "--rule", "send-answers", "--source", "other")["empty"] is True


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ((), "watcher: test-rule needs a QUERY or --rule ID"),
        (("SEND", "--rule", "send-answers"), "takes a QUERY or --rule ID, not both"),
        (
            ("SEND", "--source", "elsewhere"),
            "--source: no source 'elsewhere' (configured: wq, other)",
        ),
        (
            ("--rule", "send-answer"),
            "--rule: no rule 'send-answer' (configured: send-answers, send-tabled-here; "
            "nearest: send-answers)",
        ),
        (("--rule", "send-answers", "--events", "tabled"), "--events is for a QUERY"),
        (
            ("SEND", "--events", "answered,asked"),
            "--events: no event 'asked' (events are tabled, holding, answered, corrected,",
        ),
        (
            ("--rule", "send-tabled-here", "--source", "other"),
            "rule 'send-tabled-here' does not apply to source 'other' (its sources: wq)",
        ),
        (('SEND AND "workforce',), "position 9"),
        (("SEND", "--since", "lately"), "--since"),
    ],
)
def test_command_exits_2_with_a_clear_message_for_bad_arguments(
    config: Path, args: tuple[str, ...], problem: str
) -> None:
    result = test_rule(config, *args)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
