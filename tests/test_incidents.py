"""Source health decisions (``watcher.incidents``) and the working-day calendar, with plain values:
a poll at a time, each decision fed back as the next poll's state, as the store would."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from watcher.incidents import Before, Decision, Kind, Notice, Policy, Seen, decide
from watcher.workdays import bank_holidays, easter, is_working_day, working_time

LONDON = ZoneInfo("Europe/London")
MON = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday in winter: London is UTC
SRC = "wq"


DEFAULT = Policy()


def run(polls: Sequence[Seen], policy: Policy = DEFAULT) -> list[Notice]:
    """Every notice a run of polls makes, each poll seeing the state the last one left."""
    before = Before()
    notices: list[Notice] = []
    for seen in polls:
        d = decide(SRC, before, seen, policy)
        notices += d.notices
        before = after(before, seen, d)
    return notices


def after(before: Before, seen: Seen, d: Decision) -> Before:
    """The state the store keeps after committing ``seen`` with decision ``d``."""
    return Before(
        error_count=before.error_count + 1 if seen.error else 0,
        failing_since=d.failing_since,
        last_new_at=seen.at if seen.new else before.last_new_at,
        first_poll=before.first_poll or seen.at,
        open=d.open,
    )


def ok(n: int, new: int = 0, items: int = 10) -> Seen:
    return Seen(at=MON + timedelta(minutes=15 * n), items=items, new=new)


def failed(n: int) -> Seen:
    return Seen(at=MON + timedelta(minutes=15 * n), error="GET /x: HTTP 500", listing_read=False)


def kinds(notices: Sequence[Notice]) -> list[tuple[Kind, bool]]:
    return [(n.kind, n.opened) for n in notices]


def test_three_failures_open_one_incident_and_the_next_good_poll_closes_it() -> None:
    notices = run([ok(0), failed(1), failed(2), failed(3), failed(4), failed(5), ok(6), ok(7)])
    assert kinds(notices) == [(Kind.FAILING, True), (Kind.FAILING, False)]
    opened, closed = notices
    assert opened.since == failed(1).at  # the run's first failure
    assert opened.at == failed(3).at
    assert "3 failed polls in a row: GET /x: HTTP 500" in opened.detail
    assert closed.since == opened.since
    assert closed.at == ok(6).at


def test_failures_below_the_threshold_alert_nobody() -> None:
    assert run([failed(1), failed(2), ok(3), failed(4), failed(5), ok(6)]) == []
    assert kinds(run([failed(1)], Policy(failure_threshold=1))) == [(Kind.FAILING, True)]


def test_a_source_quiet_for_36_working_hours_raises_one_silence_alert() -> None:
    policy = Policy(expect_new_within=timedelta(hours=36), tz=LONDON)
    friday = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)
    polls = [Seen(at=friday, items=5, new=5)]
    # Hourly polls with nothing new, through the weekend and on to Tuesday.
    polls += [Seen(at=friday + timedelta(hours=h), items=5) for h in range(1, 110)]
    notices = run(polls, policy)
    [silent] = notices
    assert (silent.kind, silent.opened, silent.since) == (Kind.SILENT, True, friday)
    # Friday 10:00-24:00 is 14 working hours; 22 more on Monday: Monday 22:00 is past 36.
    assert silent.at == datetime(2025, 3, 10, 23, 0, tzinfo=UTC)
    assert "of working time" in silent.detail

    again = run([*polls, Seen(at=polls[-1].at + timedelta(hours=1), items=6, new=1)], policy)
    assert kinds(again) == [(Kind.SILENT, True), (Kind.SILENT, False)]


def test_every_day_counts_when_asked() -> None:
    policy = Policy(expect_new_within=timedelta(hours=36), working_days_only=False)
    friday = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)
    polls = [Seen(at=friday, new=1, items=1)]
    polls += [Seen(at=friday + timedelta(hours=h)) for h in range(1, 40)]
    [silent] = run(polls, policy)
    assert silent.at == friday + timedelta(hours=37)


def test_silence_is_not_judged_while_the_listing_fails_nor_without_expect_new_within() -> None:
    policy = Policy(expect_new_within=timedelta(hours=2), working_days_only=False)
    polls = [ok(0, new=1)] + [failed(n) for n in range(1, 20)]
    assert kinds(run(polls, policy)) == [(Kind.FAILING, True)]
    assert run([ok(n) for n in range(30)]) == []


def test_a_never_new_source_is_quiet_from_its_first_poll() -> None:
    policy = Policy(expect_new_within=timedelta(hours=2), working_days_only=False)
    [silent] = run([ok(n) for n in range(12)], policy)
    assert silent.since == ok(0).at


def test_unparsable_opens_above_the_threshold_and_closes_only_when_everything_parses() -> None:
    def parsed(n: int, errors: int) -> Seen:
        return Seen(
            at=MON + timedelta(minutes=15 * n),
            error="item 1: missing field uin" if errors else None,
            items=10,
            parse_errors=errors,
        )

    policy = Policy(failure_threshold=100)
    assert run([parsed(0, 1), parsed(1, 2)], policy) == []  # 10 % and 20 % are within 25 %
    notices = run([parsed(0, 3), parsed(1, 1), parsed(2, 5), parsed(3, 0), parsed(4, 0)], policy)
    assert kinds(notices) == [(Kind.UNPARSABLE, True), (Kind.UNPARSABLE, False)]
    assert "3 of 10 items did not parse" in notices[0].detail
    assert notices[1].at == parsed(3, 0).at


def test_a_listing_that_does_not_parse_is_unparsable_at_once() -> None:
    garbage = Seen(
        at=MON, error="GET /x: response is not JSON", listing_read=False, listing_unparsable=True
    )
    notices = run([garbage, ok(1)])
    assert kinds(notices) == [(Kind.UNPARSABLE, True), (Kind.UNPARSABLE, False)]


polls = st.lists(
    st.tuples(
        st.booleans(),  # failed
        st.integers(0, 3),  # new items
        st.integers(0, 10),  # parse errors of 10 items
        st.integers(1, 48),  # hours since the last poll
    ),
    max_size=60,
)


@given(polls, st.integers(1, 5), st.booleans())
def test_each_incident_makes_one_opening_and_at_most_one_closing_notice(
    steps: list[tuple[bool, int, int, int]], threshold: int, working: bool
) -> None:
    policy = Policy(
        failure_threshold=threshold,
        expect_new_within=timedelta(hours=36),
        working_days_only=working,
        tz=LONDON,
    )
    at = MON
    seen = []
    for fails, new, parse_errors, hours in steps:
        at += timedelta(hours=hours)
        seen.append(
            Seen(
                at=at,
                error="boom" if fails or parse_errors else None,
                listing_read=not fails,
                items=10,
                parse_errors=0 if fails else parse_errors,
                new=0 if fails else new,
            )
        )
    notices = run(seen, policy)
    by_incident: dict[tuple[Kind, datetime], list[bool]] = {}
    for n in notices:
        by_incident.setdefault((n.kind, n.since), []).append(n.opened)
    for changes in by_incident.values():
        assert changes in ([True], [True, False])
    # Incidents of one kind never overlap: each closes before the next opens.
    for kind in Kind:
        of_kind = [n.opened for n in notices if n.kind is kind]
        assert of_kind == [i % 2 == 0 for i in range(len(of_kind))]


def test_bank_holidays_of_england_and_wales() -> None:
    assert easter(2025) == date(2025, 4, 20)
    assert easter(2027) == date(2027, 3, 28)
    assert sorted(bank_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
        date(2026, 12, 25),
        date(2026, 12, 28),  # Boxing Day is a Saturday
    ]
    assert date(2027, 12, 27) in bank_holidays(2027)  # Christmas on a Saturday
    assert date(2027, 12, 28) in bank_holidays(2027)
    assert not is_working_day(date(2025, 3, 8))  # a Saturday
    assert is_working_day(date(2025, 3, 10))


def test_working_time_skips_weekends_and_holidays_in_local_time() -> None:
    friday = datetime(2025, 4, 17, 12, 0, tzinfo=UTC)  # Thursday before Good Friday, 13:00 BST
    tuesday = datetime(2025, 4, 22, 12, 0, tzinfo=UTC)
    # Thursday 13:00-24:00 BST, nothing until Tuesday (Good Friday, weekend, Easter Monday),
    # then Tuesday 00:00-13:00 BST.
    assert working_time(friday, tuesday, LONDON) == timedelta(hours=24)
    assert working_time(tuesday, friday, LONDON) == timedelta(0)
    # The day the clocks go forward (Sunday 30 March 2025) is not a working day anyway; the
    # Monday after counts 24 hours.
    monday = datetime(2025, 3, 30, 23, 0, tzinfo=UTC)  # Monday 00:00 BST
    assert working_time(monday, monday + timedelta(days=1), LONDON) == timedelta(hours=24)
