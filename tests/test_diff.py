"""Which listed entries to fetch, which events fetched records make, and which events an
item's life made, read from its current version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.diff import changed, events, life_events
from watcher.kinds.questions import question_of, revise, written_question
from watcher.model import (
    Event,
    EventType,
    GroupedQuestion,
    Person,
    Record,
    Status,
    Text,
)
from watcher.sources.base import ListEntry

ANSWER = "The Department will work with the SEND workforce."
HOLDING = "I will reply as soon as possible."


def text(plain: str, html: str | None = None) -> Text:
    return Text(html if html is not None else f"<p>{plain}</p>", plain)


def tabled(key: str = "1679416") -> Record:
    return written_question(
        source="parliament",
        key=key,
        kind="written_question",
        title="Special Educational Needs",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602",
        status=Status.TABLED,
        house="Commons",
        uin="8602",
        department="Department for Education",
        department_id=60,
        asked_by=Person(4000, "A Member"),
        question=text("To ask the Secretary of State for Education, what discussions ..."),
        date_tabled=date(2024, 1, 8),
    )


def holding(key: str = "1679416") -> Record:
    return revise(
        tabled(key),
        status=Status.HOLDING,
        answer=text(HOLDING),
        answered_by=Person(5000, "David Johnston"),
        date_holding=date(2024, 1, 12),
    )


def answered(key: str = "1679416", answer: str = ANSWER) -> Record:
    return revise(
        tabled(key),
        status=Status.ANSWERED,
        answer=text(answer),
        answered_by=Person(5000, "David Johnston"),
        date_answered=date(2024, 1, 15),
    )


def corrected(key: str = "1679416") -> Record:
    return revise(
        answered(key, ANSWER + " Correction: and Social Care."),
        is_correction=True,
        original_answer=text(ANSWER),
        corrected_by=Person(5000, "David Johnston"),
        date_corrected=date(2024, 2, 1),
    )


def withdrawn(before: Record | None = None) -> Record:
    return revise(before or tabled(), status=Status.WITHDRAWN)


# --- first sight ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (tabled(), EventType.TABLED),
        (holding(), EventType.HOLDING),
        (answered(), EventType.ANSWERED),
        (corrected(), EventType.CORRECTED),
        (withdrawn(), EventType.WITHDRAWN),
    ],
)
def test_a_record_seen_first_makes_an_event_by_its_status(record: Record, kind: EventType) -> None:
    assert events([record], {}) == [Event(kind, record, previous=None)]


def test_a_correction_seen_first_carries_the_old_answer_in_the_record() -> None:
    [event] = events([corrected()], {})
    assert event.previous is None
    assert question_of(event.record).original_answer == text(ANSWER)


# --- transitions ---------------------------------------------------------------------------

TRANSITIONS: list[tuple[str, Record, Record, EventType | None, bool]] = [
    ("tabled -> holding", tabled(), holding(), EventType.HOLDING, False),
    ("tabled -> answered", tabled(), answered(), EventType.ANSWERED, False),
    ("holding -> answered", holding(), answered(), EventType.ANSWERED, True),
    ("tabled -> withdrawn", tabled(), withdrawn(), EventType.WITHDRAWN, False),
    ("holding -> withdrawn", holding(), withdrawn(holding()), EventType.WITHDRAWN, False),
    ("answered -> withdrawn", answered(), withdrawn(answered()), EventType.WITHDRAWN, False),
    (
        "answer text changed, not flagged",
        answered(),
        answered(answer=ANSWER + " And Social Care."),
        EventType.CORRECTED,
        False,
    ),
    ("answer text changed and flagged", answered(), corrected(), EventType.CORRECTED, False),
    (
        "flagged as a correction, same text",
        answered(),
        revise(answered(), is_correction=True),
        EventType.CORRECTED,
        False,
    ),
    (
        "date corrected changed",
        corrected(),
        revise(corrected(), date_corrected=date(2024, 2, 2)),
        EventType.CORRECTED,
        False,
    ),
    (
        "a correction corrected again",
        corrected(),
        revise(corrected(), answer=text(ANSWER + " Correction: and Social Care, again.")),
        EventType.CORRECTED,
        False,
    ),
    # changes that are not events
    (
        "grouped questions added",
        answered(),
        revise(answered(), grouped=(GroupedQuestion("8603", date(2024, 1, 8)),)),
        None,
        False,
    ),
    (
        "member details changed",
        answered(),
        revise(answered(), answered_by=Person(5000, "Mr David Johnston")),
        None,
        False,
    ),
    (
        "grouped while tabled",
        tabled(),
        revise(tabled(), grouped=(GroupedQuestion("8603", None),)),
        None,
        False,
    ),
    (
        "holding answer reworded",
        holding(),
        revise(holding(), answer=text(HOLDING + " Soon.")),
        None,
        False,
    ),
    (
        "withdrawal reworded",
        withdrawn(),
        revise(withdrawn(), title="Special Educational Needs: Workforce"),
        None,
        False,
    ),
    ("withdrawn -> tabled again", withdrawn(), tabled(), None, False),
    ("answered -> holding", answered(), holding(), None, False),
    ("answered -> tabled", answered(), tabled(), None, False),
]


@pytest.mark.parametrize(
    ("stored", "fetched", "kind", "replaces_holding"),
    [t[1:] for t in TRANSITIONS],
    ids=[t[0] for t in TRANSITIONS],
)
def test_transitions(
    stored: Record, fetched: Record, kind: EventType | None, replaces_holding: bool
) -> None:
    expected = (
        []
        if kind is None
        else [Event(kind, fetched, previous=stored, replaces_holding=replaces_holding)]
    )
    assert events([fetched], {stored.key: stored}) == expected


@pytest.mark.parametrize("record", [tabled(), holding(), answered(), corrected(), withdrawn()])
def test_an_unchanged_record_makes_no_event(record: Record) -> None:
    assert events([record], {record.key: record}) == []


def test_markup_and_spacing_are_not_changes() -> None:
    stored = answered()
    rerendered = revise(
        stored, answer=text(ANSWER.replace(" ", "  "), f"<div><span>{ANSWER}</span></div>")
    )
    assert events([rerendered], {stored.key: stored}) == []


def test_each_record_is_compared_with_its_own_stored_version() -> None:
    stored = {"1": tabled("1"), "2": answered("2")}
    batch = [answered("1"), answered("2"), tabled("3")]
    assert events(batch, stored) == [
        Event(EventType.ANSWERED, batch[0], previous=stored["1"]),
        Event(EventType.TABLED, batch[2]),
    ]


def test_the_same_change_twice_in_one_batch_is_one_event() -> None:
    stored = {"1": tabled("1")}
    assert events([answered("1"), answered("1")], stored) == [
        Event(EventType.ANSWERED, answered("1"), previous=stored["1"]),
    ]


# --- changed listings ----------------------------------------------------------------------


def test_changed_entries_are_new_or_differ_from_what_is_known() -> None:
    entries = [ListEntry("1", "aaa"), ListEntry("2", "bbb"), ListEntry("3", "ccc")]
    known = {"1": "aaa", "2": "old"}
    assert changed(entries, known) == [ListEntry("2", "bbb"), ListEntry("3", "ccc")]
    assert changed(entries, {}) == entries
    assert changed(entries, {"1": "aaa", "2": "bbb", "3": "ccc"}) == []
    assert changed([], known) == []


def test_an_entry_listed_twice_is_fetched_once() -> None:
    entries = [ListEntry("1", "aaa"), ListEntry("2", "bbb"), ListEntry("1", "aaa")]
    assert changed(entries, {}) == [ListEntry("1", "aaa"), ListEntry("2", "bbb")]
    assert changed(entries, {"1": "aaa"}) == [ListEntry("2", "bbb")]


# --- properties ----------------------------------------------------------------------------

SHAPES: tuple[Callable[[str], Record], ...] = (
    tabled,
    holding,
    answered,
    corrected,
    lambda key: withdrawn(answered(key)),
)
answers = st.sampled_from([None, text(ANSWER), text(HOLDING), text("A different answer.")])
some_dates = st.sampled_from([None, date(2024, 2, 1), date(2024, 2, 2)])
shapes = st.sampled_from(SHAPES)
keys = st.integers(0, 15).map(str)  # few keys, so batches share some
groups = st.sets(st.sampled_from("123")).map(
    lambda uins: tuple(GroupedQuestion(u, None) for u in sorted(uins))
)


@st.composite
def records(draw: st.DrawFn) -> Record:
    return revise(
        draw(shapes)(draw(keys)),
        answer=draw(answers),
        date_corrected=draw(some_dates),
        is_correction=draw(st.booleans()),
        grouped=draw(groups),
    )


batches = st.lists(records(), unique_by=lambda r: r.key, max_size=8).map(tuple)


@given(batches)
def test_diffing_a_batch_against_itself_makes_no_events(batch: tuple[Record, ...]) -> None:
    assert events(batch, {r.key: r for r in batch}) == []


@given(batches)
def test_every_record_seen_first_makes_exactly_one_event(batch: tuple[Record, ...]) -> None:
    made = events(batch, {})
    assert [e.record for e in made] == list(batch)
    assert all(e.previous is None for e in made)


@given(batches, batches)
def test_an_event_always_carries_the_stored_version(
    stored: tuple[Record, ...], fetched: tuple[Record, ...]
) -> None:
    by_key = {r.key: r for r in stored}
    for event in events(fetched, by_key):
        assert event.previous is by_key.get(event.record.key)
        assert event.record.fingerprint != (event.previous.fingerprint if event.previous else "")


# --- an item's life, from its current version ----------------------------------------------

TABLED_ON, HOLDING_ON, ANSWERED_ON, CORRECTED_ON = (
    date(2024, 1, 8),
    date(2024, 1, 12),
    date(2024, 1, 15),
    date(2024, 2, 1),
)
DAY = date(2024, 3, 1)  # the item's day (``Candidate.day``), for what has no date of its own
T, H, A, C, W = (
    EventType.TABLED,
    EventType.HOLDING,
    EventType.ANSWERED,
    EventType.CORRECTED,
    EventType.WITHDRAWN,
)


def life(record: Record) -> list[tuple[EventType, date]]:
    return [(e.type, e.day) for e in life_events(record, DAY)]


def answered_after_holding() -> Record:
    return revise(answered(), date_holding=HOLDING_ON)


def test_an_items_life_is_read_from_its_current_version() -> None:
    assert life(tabled()) == [(T, TABLED_ON)]
    assert life(holding()) == [(T, TABLED_ON), (H, HOLDING_ON)]
    assert life(answered()) == [(T, TABLED_ON), (A, ANSWERED_ON)]
    assert life(answered_after_holding()) == [(T, TABLED_ON), (H, HOLDING_ON), (A, ANSWERED_ON)]
    # Watched from the start, a corrected answer was an answer first.
    assert life(corrected()) == [(T, TABLED_ON), (A, ANSWERED_ON), (C, CORRECTED_ON)]
    # The API dates no withdrawal: the item's day stands in.
    assert life(withdrawn()) == [(T, TABLED_ON), (W, DAY)]
    assert life(withdrawn(holding())) == [(T, TABLED_ON), (H, HOLDING_ON), (W, DAY)]


def test_a_missing_date_falls_back_to_the_nearest_known_one() -> None:
    flagged = revise(answered(), is_correction=True)  # a correction without its date
    assert life(flagged) == [(T, TABLED_ON), (A, ANSWERED_ON), (C, ANSWERED_ON)]
    dated = revise(corrected(), is_correction=False)  # a correction date, not flagged
    assert life(dated) == [(T, TABLED_ON), (A, ANSWERED_ON), (C, CORRECTED_ON)]
    assert life(revise(holding(), date_holding=None)) == [(T, TABLED_ON), (H, DAY)]
    undated = revise(holding(), date_holding=None, date_answered=ANSWERED_ON)
    assert life(undated) == [(T, TABLED_ON), (H, ANSWERED_ON)]
    assert life(revise(answered(), date_answered=None)) == [(T, TABLED_ON), (A, DAY)]
    assert life(revise(tabled(), date_tabled=None)) == [(T, DAY)]


LIVES: dict[str, list[Record]] = {
    "tabled": [tabled()],
    "holding": [tabled(), holding()],
    "answered": [tabled(), answered()],
    "answered after a holding answer": [tabled(), holding(), answered_after_holding()],
    "corrected": [tabled(), answered(), corrected()],
    "corrected after a holding answer": [
        tabled(),
        holding(),
        answered_after_holding(),
        revise(corrected(), date_holding=HOLDING_ON),
    ],
    "withdrawn": [tabled(), withdrawn()],
    "withdrawn while holding": [tabled(), holding(), withdrawn(holding())],
}


@pytest.mark.parametrize("versions", LIVES.values(), ids=LIVES.keys())
def test_the_life_of_an_item_is_what_polling_it_all_along_made(versions: list[Record]) -> None:
    made: list[EventType] = []
    stored: dict[str, Record] = {}
    for version in versions:
        made += [e.type for e in events([version], stored)]
        stored = {version.key: version}
    assert [e.type for e in life_events(versions[-1], DAY)] == made
