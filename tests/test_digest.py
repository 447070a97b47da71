from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher import digest
from watcher.config import Cadence, Subscription
from watcher.kinds.questions import revise, written_question
from watcher.model import Event, EventType, GroupedQuestion, Hit, Record, Status, Text
from watcher.store.base import PendingItem

LONDON = ZoneInfo("Europe/London")
DAILY_0730 = Cadence(kind="daily", at=time(7, 30))
WEEKLY_MON_0730 = Cadence(kind="weekly", at=time(7, 30), weekday=0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- period_end / next_run ---------------------------------------------------------------


def test_immediate_period_ends_now_and_has_no_next_run() -> None:
    now = datetime(2024, 1, 16, 10, 0, tzinfo=LONDON)
    cadence = Cadence(kind="immediate")
    assert digest.period_end(cadence, LONDON, now) == utc(2024, 1, 16, 10, 0)
    assert digest.period_end(cadence, LONDON, now).tzinfo == UTC
    assert digest.next_run(cadence, LONDON, now) is None


def test_daily_in_winter_is_gmt_and_in_summer_is_bst() -> None:
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 1, 16, 10)) == utc(2024, 1, 16, 7, 30)
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 7, 16, 10)) == utc(2024, 7, 16, 6, 30)


def test_daily_before_todays_time_is_yesterdays_cutoff() -> None:
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 1, 16, 7, 29)) == utc(2024, 1, 15, 7, 30)
    # exactly at the time: that period has just closed
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 1, 16, 7, 30)) == utc(2024, 1, 16, 7, 30)


def test_item_arriving_at_ten_waits_for_tomorrows_digest() -> None:
    created = utc(2024, 1, 16, 10, 0)
    later_today = digest.period_end(DAILY_0730, LONDON, utc(2024, 1, 16, 18, 0))
    assert not created < later_today  # not in today's digest
    tomorrow = digest.next_run(DAILY_0730, LONDON, created)
    assert tomorrow == utc(2024, 1, 17, 7, 30)
    assert created < digest.period_end(DAILY_0730, LONDON, tomorrow)


def test_daily_across_spring_forward() -> None:
    # Clocks go forward at 01:00 GMT on 31 March 2024.
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 3, 31, 12)) == utc(2024, 3, 31, 6, 30)
    assert digest.next_run(DAILY_0730, LONDON, utc(2024, 3, 30, 12)) == utc(2024, 3, 31, 6, 30)
    assert digest.period_end(DAILY_0730, LONDON, utc(2024, 3, 31, 7)) == utc(2024, 3, 31, 6, 30)


def test_nonexistent_local_time_lands_just_after_the_gap() -> None:
    at_0130 = Cadence(kind="daily", at=time(1, 30))  # 01:30 does not exist on 31 March 2024
    end = digest.period_end(at_0130, LONDON, utc(2024, 3, 31, 12))
    assert end == utc(2024, 3, 31, 1, 30)  # = 02:30 BST
    assert digest.next_run(at_0130, LONDON, utc(2024, 3, 31, 0)) == end


def test_ambiguous_local_time_runs_once_at_its_first_occurrence() -> None:
    # Clocks go back at 02:00 BST on 27 October 2024: 01:30 happens twice.
    at_0130 = Cadence(kind="daily", at=time(1, 30))
    first = digest.next_run(at_0130, LONDON, utc(2024, 10, 27, 0, 0))
    assert first == utc(2024, 10, 27, 0, 30)  # 01:30 BST
    # The second 01:30 (01:30 GMT) is not a second run.
    assert digest.next_run(at_0130, LONDON, first) == utc(2024, 10, 28, 1, 30)
    assert digest.period_end(at_0130, LONDON, utc(2024, 10, 27, 1, 45)) == first


def test_weekly_is_the_most_recent_weekday_and_time() -> None:
    wednesday = utc(2024, 1, 17, 12)
    assert digest.period_end(WEEKLY_MON_0730, LONDON, wednesday) == utc(2024, 1, 15, 7, 30)
    assert digest.next_run(WEEKLY_MON_0730, LONDON, wednesday) == utc(2024, 1, 22, 7, 30)
    monday_early = utc(2024, 1, 15, 7, 0)
    assert digest.period_end(WEEKLY_MON_0730, LONDON, monday_early) == utc(2024, 1, 8, 7, 30)
    assert digest.next_run(WEEKLY_MON_0730, LONDON, monday_early) == utc(2024, 1, 15, 7, 30)


def test_weekly_across_a_dst_change() -> None:
    # Monday 25 March is GMT, Monday 1 April is BST.
    assert digest.next_run(WEEKLY_MON_0730, LONDON, utc(2024, 3, 26)) == utc(2024, 4, 1, 6, 30)
    sunday_night = utc(2024, 3, 31, 23)
    assert digest.period_end(WEEKLY_MON_0730, LONDON, sunday_night) == utc(2024, 3, 25, 7, 30)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        digest.period_end(DAILY_0730, LONDON, datetime(2024, 1, 16, 10))


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    at=st.times(),
    weekday=st.one_of(st.none(), st.integers(0, 6)),
    zone=st.sampled_from(["Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_period_end_and_next_run_bracket_now(
    now: datetime, at: time, weekday: int | None, zone: str
) -> None:
    tz = ZoneInfo(zone)
    at = at.replace(microsecond=0)
    cadence = (
        Cadence(kind="daily", at=at)
        if weekday is None
        else Cadence(kind="weekly", at=at, weekday=weekday)
    )
    end = digest.period_end(cadence, tz, now)
    nxt = digest.next_run(cadence, tz, now)
    assert nxt is not None
    assert end <= now < nxt
    # The next run closes the next period: nothing is skipped or run twice in between.
    assert digest.period_end(cadence, tz, nxt) == nxt
    assert digest.period_end(cadence, tz, nxt - timedelta(microseconds=1)) == end
    assert nxt - end <= timedelta(days=7 if weekday is not None else 1, hours=3)
    if weekday is not None:
        assert end.astimezone(tz).weekday() == weekday


# --- build -------------------------------------------------------------------------------


def record(
    key: str, *, answered: date | None = date(2024, 1, 15), title: str = "Special Educational Needs"
) -> Record:
    return written_question(
        source="parliament",
        key=key,
        kind="written_question",
        title=title,
        url=f"https://questions-statements.parliament.uk/{key}",
        status=Status.ANSWERED,
        date_tabled=date(2024, 1, 8),
        date_answered=answered,
    )


def subscription(*rules: str) -> Subscription:
    return Subscription(
        id="send", rules=rules, channel="files", to=("a@example.org",), digest=DAILY_0730
    )


END = utc(2024, 1, 16, 7, 30)


def test_event_matched_by_two_rules_is_one_item_naming_both() -> None:
    event = Event(EventType.ANSWERED, record("1"))
    shared = Hit("answer", 251, 265, "SEND workforce")
    item = PendingItem(
        ledger_id=7,
        event=event,
        hits={
            "workforce": (shared, Hit("answer", 10, 19, "workforce")),
            "send": (Hit("title", 0, 7, "Special"), shared),
        },
    )
    d = digest.build(subscription("send", "workforce"), [item], END)
    assert len(d.items) == 1
    assert d.items[0].event == event
    assert d.items[0].rule_ids == ("send", "workforce")  # the subscription's order
    assert d.items[0].hits == (
        Hit("answer", 10, 19, "workforce"),
        shared,
        Hit("title", 0, 7, "Special"),
    )


def test_same_event_in_two_pending_rows_is_merged() -> None:
    event = Event(EventType.ANSWERED, record("1"))
    rows = [
        PendingItem(1, event, {"a": (Hit("answer", 0, 4, "SEND"),)}),
        PendingItem(2, event, {"b": (Hit("answer", 0, 4, "SEND"),)}),
    ]
    d = digest.build(subscription("a", "b"), rows, END)
    assert [(i.rule_ids, i.hits) for i in d.items] == [(("a", "b"), (Hit("answer", 0, 4, "SEND"),))]


def test_hits_of_rules_outside_the_subscription_do_not_count() -> None:
    both = Event(EventType.ANSWERED, record("1"))
    only_other = Event(EventType.ANSWERED, record("2"))
    rows = [
        PendingItem(
            1,
            both,
            {"mine": (Hit("answer", 0, 4, "SEND"),), "other": (Hit("question", 3, 8, "pupil"),)},
        ),
        PendingItem(2, only_other, {"other": (Hit("answer", 0, 4, "SEND"),)}),
    ]
    d = digest.build(subscription("mine"), rows, END)
    assert [i.event.record.key for i in d.items] == ["1"]
    assert d.items[0].rule_ids == ("mine",)
    assert d.items[0].hits == (Hit("answer", 0, 4, "SEND"),)


def test_items_are_ordered_by_event_type_then_date_then_key() -> None:
    def row(n: int, event: Event) -> PendingItem:
        return PendingItem(n, event, {"r": ()})

    tabled = Event(EventType.TABLED, record("t", answered=None))
    corrected = Event(EventType.CORRECTED, record("c"))
    late = Event(EventType.ANSWERED, record("b", answered=date(2024, 1, 15)))
    early = Event(EventType.ANSWERED, record("z", answered=date(2024, 1, 12)))
    same_day = Event(EventType.ANSWERED, record("a", answered=date(2024, 1, 15)))
    d = digest.build(
        subscription("r"),
        [row(1, tabled), row(2, corrected), row(3, late), row(4, early), row(5, same_day)],
        END,
    )
    assert [i.event.record.key for i in d.items] == ["z", "a", "b", "c", "t"]


def test_digest_carries_subscription_cutoff_in_utc_and_cadence() -> None:
    d = digest.build(subscription("r"), [], datetime(2024, 1, 16, 7, 30, tzinfo=LONDON))
    assert d.subscription_id == "send"
    assert d.items == ()
    assert d.period_end == END
    assert d.period_end.tzinfo == UTC
    assert d.cadence == "daily 07:30"


# --- idempotency_key ---------------------------------------------------------------------


def test_idempotency_key_is_the_same_for_the_same_rows_in_any_order() -> None:
    key = digest.idempotency_key("send", [3, 1, 2])
    assert key == digest.idempotency_key("send", [2, 3, 1])
    assert key == digest.idempotency_key("send", (i for i in [1, 2, 3]))
    assert key.isalnum()
    assert key == key.lower()


def test_idempotency_key_differs_for_other_rows_or_subscription() -> None:
    key = digest.idempotency_key("send", [1, 2, 3])
    assert key != digest.idempotency_key("send", [1, 2])
    assert key != digest.idempotency_key("send", [1, 23])
    assert key != digest.idempotency_key("other", [1, 2, 3])
    assert digest.idempotency_key("send", [12, 3]) != digest.idempotency_key("send", [1, 23])


def grouped(key: str, uin: str, *others: str, answer: str = "One answer for both.") -> Record:
    return revise(
        record(key),
        uin=uin,
        question=Text(f"<p>Question {uin}?</p>", f"Question {uin}?"),
        answer=Text(f"<p>{answer}</p>", answer),
        grouped=tuple(GroupedQuestion(o, date(2024, 1, 8)) for o in others),
    )


def test_questions_answered_together_are_one_item_naming_each() -> None:
    first, second = grouped("1", "8602", "8603"), grouped("2", "8603", "8602", "8604")
    third = grouped("3", "8604", "8603")  # names only the second question, not the first
    elsewhere = grouped("4", "9000", "8602", answer="A different answer.")
    rows = [
        PendingItem(n, Event(EventType.ANSWERED, r), {rule: (Hit("answer", 0, 3, "One"),)})
        for n, (r, rule) in enumerate(
            [(first, "send"), (second, "workforce"), (third, "send"), (elsewhere, "send")]
        )
    ]
    d = digest.build(subscription("send", "workforce"), rows, END)
    assert [item.event.record.key for item in d.items] == ["1", "4"]
    together = d.items[0]
    assert [e.record.key for e in together.together] == ["2", "3"]
    assert together.rule_ids == ("send", "workforce")  # every question's rules
    assert d.items[1].together == ()  # the same group, another answer: its own item


def test_the_same_answer_to_questions_not_grouped_is_two_items() -> None:
    a = revise(grouped("1", "8602"), grouped=())
    b = revise(grouped("2", "8603"), grouped=())
    rows = [
        PendingItem(n, Event(EventType.ANSWERED, r), {"send": ()}) for n, r in enumerate([a, b])
    ]
    assert len(digest.build(subscription("send"), rows, END).items) == 2
