"""Working days and how much working time lies between two instants, for ``expect_new_within``.

A working day is Monday to Friday in the configured time zone, except the bank holidays of
England and Wales. They are computed, not listed, so the calendar never runs out: New Year's
Day, Good Friday, Easter Monday, the first and last Mondays of May, the last Monday of August,
Christmas Day and Boxing Day, each moved to the next free weekday when it falls at a weekend.
One-off holidays proclaimed for royal events (2022's jubilee, 2023's coronation) are not
known; a silence alert a day early on such a day is the cost. Parliament's recesses are not
known either: a source that is quiet for weeks in recess wants ``expect_new_within`` long
enough, or none.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, tzinfo

MONDAY, FRIDAY = 0, 4
# More than any silence anyone configures; a state older than this counts as that much.
_MAX_DAYS = 400


def easter(year: int) -> date:
    """Easter Sunday (Gregorian), by the anonymous algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@functools.cache
def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays in ``year`` (one-off proclamations excepted)."""
    sunday = easter(year)
    days = {sunday - timedelta(days=2), sunday + timedelta(days=1)}
    days.add(_first_monday(date(year, 5, 1)))
    days.add(_last_monday(date(year, 5, 31)))
    days.add(_last_monday(date(year, 8, 31)))
    days.add(_next_weekday(date(year, 1, 1), set()))
    christmas = _next_weekday(date(year, 12, 25), set())
    days.add(christmas)
    days.add(_next_weekday(date(year, 12, 26), {christmas}))
    return frozenset(days)


def _first_monday(d: date) -> date:
    return d + timedelta(days=(MONDAY - d.weekday()) % 7)


def _last_monday(d: date) -> date:
    return d - timedelta(days=(d.weekday() - MONDAY) % 7)


def _next_weekday(d: date, taken: set[date]) -> date:
    while d.weekday() > FRIDAY or d in taken:
        d += timedelta(days=1)
    return d


def is_working_day(d: date) -> bool:
    return d.weekday() <= FRIDAY and d not in bank_holidays(d.year)


def working_time(start: datetime, end: datetime, tz: tzinfo) -> timedelta:
    """How much of ``start``..``end`` falls on working days in ``tz`` (each day midnight to
    midnight local time, so a DST day counts 23 or 25 hours). Zero if ``end`` is not later."""
    if end <= start:
        return timedelta(0)
    # In UTC throughout: two datetimes sharing a zone subtract as wall clocks, ignoring DST.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    start = max(start, end - timedelta(days=_MAX_DAYS))
    total = timedelta(0)
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if is_working_day(day):
            begins = _midnight(day, tz)
            ends = _midnight(day + timedelta(days=1), tz)
            overlap = min(end, ends) - max(start, begins)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def _midnight(d: date, tz: tzinfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)
