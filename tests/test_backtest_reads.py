"""What a backtest reads from the store, on both backends.

``Store.match_inputs`` is what it reads of each candidate instead of the whole record: the
values are picked out of the stored JSON without building a ``Record``, so these tests hold
them to the decoded record: the same plain texts (``Record.fields()``), the same metadata
(``Metadata.of``), hence the same document for the matcher, whatever the characters, and the
same status and dates, hence the same events of the item's life (``diff.life_events``). The
lookup index that SQLite's candidate query names must exist after migrating an older store.
``Store.stored_span`` says how much history a source has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher import backtest
from watcher.diff import life_events
from watcher.kinds.questions import written_question
from watcher.match import Document, Metadata, parse
from watcher.model import Person, Record, Status, Text
from watcher.store import MatchInput, Store
from watcher.store.base import StoredSpan

AT = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
SRC = "wq"


def rec(
    key: str, title: str = "Schools", answer: str | None = "An answer.", **kw: object
) -> Record:
    fields: dict[str, object] = {
        "source": SRC,
        "key": key,
        "kind": "written_question",
        "title": title,
        "url": f"https://questions.example/{key}",
        "status": Status.ANSWERED if answer is not None else Status.TABLED,
        "question": Text("<p>What steps?</p>", "What steps?"),
        "answer": None if answer is None else Text(f"<p>{answer}</p>", answer),
        "date_answered": date(2024, 1, 15),
        **kw,
    }
    return written_question(**fields)  # type: ignore[arg-type]


def assert_reads_as(found: MatchInput, r: Record) -> None:
    assert found.fields() == r.fields()
    assert Document.from_record(found).meta == Metadata.of(r)
    assert (found.kind, found.source, found.body) == (r.kind, r.source, r.body)
    assert life_events(found, AT.date()) == life_events(r, AT.date())


def test_match_inputs_are_the_records_fields_and_metadata(store: Store) -> None:
    records = [
        rec(
            "full",
            house="Lords",
            uin="HL1742",
            department="Department for Education",
            department_id=60,
            asked_by=Person(4321, "Baroness X", party="Crossbench", constituency="Life peer"),
            answered_by=Person(12, "Lord Y"),
        ),
        rec("bare", answer=None, question=None, title=""),
        rec("quoted", 'Say "SEND" \\ back\\slash', answer="Line\nbreak\u2028and\ttab é 😀"),
        rec("nul", "Odd\x00title", answer="A NUL\x00 inside"),
        rec("escaped", "A literal \\u0000 in the text"),
        rec(
            "corrected",
            date_tabled=date(2024, 1, 8),
            date_holding=date(2024, 1, 10),
            date_corrected=date(2024, 2, 1),
            is_correction=True,
        ),
        rec("holding", status=Status.HOLDING, date_answered=None, date_holding=date(2024, 1, 9)),
        rec("withdrawn", answer=None, status=Status.WITHDRAWN, date_answered=None),
    ]
    store.commit_records(SRC, [(r, "listed") for r in records], AT)
    found = store.match_inputs(SRC, [r.key for r in records] + ["never-stored"])
    assert set(found) == {r.key for r in records}
    for r in records:
        assert_reads_as(found[r.key], r)
    assert store.match_inputs("other-source", ["full"]) == {}


def test_match_inputs_follow_the_current_version(store: Store) -> None:
    store.commit_records(SRC, [(rec("k", answer="The tribunal heard it."), "v1")], AT)
    newer = rec("k", answer="Mediation resolved it.", house="Commons")
    store.commit_records(SRC, [(newer, "v2")], AT.replace(hour=13))
    assert_reads_as(store.match_inputs(SRC, ["k"])["k"], newer)


def test_many_match_inputs_are_read_back(store: Store) -> None:
    records = [rec(str(n), answer=f"Answer {n}.") for n in range(1200)]
    store.commit_records(SRC, [(r, "listed") for r in records], AT)
    found = store.match_inputs(SRC, (r.key for r in records))
    assert {k: v.texts["answer"] for k, v in found.items()} == {
        r.key: f"Answer {r.key}." for r in records
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=st.text(max_size=30), answer=st.text(max_size=60))
def test_any_text_reads_back_exactly(store: Store, title: str, answer: str) -> None:
    r = rec("h", title, answer)
    store.commit_records(SRC, [(r, "listed")], AT)
    assert_reads_as(store.match_inputs(SRC, ["h"])["h"], r)


def test_the_newest_examples_keep_the_order_of_the_matches_across_sources(store: Store) -> None:
    a = rec("a", answer="The tribunal sat.", date_answered=date(2024, 1, 20))
    b = rec("b", answer="A tribunal again.", date_answered=date(2024, 1, 19), source="other")
    c = rec("c", answer="Tribunal fees.", date_answered=date(2024, 1, 18))
    store.commit_records(SRC, [(a, "listed"), (c, "listed")], AT)
    store.commit_records("other", [(b, "listed")], AT)
    found = backtest.search(store, parse("tribunal"), newest=3)
    assert [(m.source, m.key) for m in found.matched] == [(SRC, "a"), ("other", "b"), (SRC, "c")]
    assert [(e.record.source, e.record.key) for e in found.newest] == [
        (SRC, "a"),
        ("other", "b"),
        (SRC, "c"),
    ]


def test_stored_span_counts_each_sources_current_records_and_their_days(store: Store) -> None:
    assert store.stored_span() == StoredSpan(0, None, None)
    assert store.stored_span(SRC) == StoredSpan(0, None, None)
    first = rec("a", date_tabled=date(2023, 11, 2), date_answered=date(2023, 11, 20))
    store.commit_records(SRC, [(first, "v1"), (rec("b", date_answered=date(2024, 1, 9)), "v1")], AT)
    store.commit_records("other", [(rec("c", source="other"), "v1")], AT)
    assert store.stored_span(SRC) == StoredSpan(2, date(2023, 11, 20), date(2024, 1, 9))
    assert store.stored_span("other") == StoredSpan(1, date(2024, 1, 15), date(2024, 1, 15))
    assert store.stored_span() == StoredSpan(3, date(2023, 11, 20), date(2024, 1, 15))
    # A new version replaces the old one: still one record, dated by its current version.
    later = rec("a", answer="Corrected.", date_corrected=date(2024, 1, 30))
    store.commit_records(SRC, [(later, "v2")], AT.replace(hour=13))
    assert store.stored_span(SRC) == StoredSpan(2, date(2024, 1, 9), date(2024, 1, 30))
    assert store.stored_span("never-stored") == StoredSpan(0, None, None)
