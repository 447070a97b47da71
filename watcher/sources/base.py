"""The Source role: how the pipeline gets records from the outside world.

A source works in two steps so that an unchanged poll costs list requests only:

1. ``list(since, until)`` pages through the source's listing for a date window and returns
   one ``ListEntry`` per item with a fingerprint of the entry *as listed*. If a page fails,
   it returns what earlier pages brought together with the error (``Listing.error``).
2. ``fetch(entries)`` fetches the full item for the entries the pipeline asks for (those that
   are new or whose listed fingerprint changed) and normalises each into a ``Record``. An item
   that cannot be fetched is reported in ``Fetched.errors``; the others are still returned.

Neither method raises for network or server trouble: errors are values, so one failing page or
item never loses the rest. They raise only for bugs. Sources do not touch the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from watcher.errors import SourceError
from watcher.model import Record


@dataclass(frozen=True)
class ListEntry:
    key: str
    fingerprint: str  # of the entry as the listing shows it (truncated text and all)


@dataclass(frozen=True)
class Listing:
    entries: tuple[ListEntry, ...]
    error: SourceError | None = None  # set when the listing stopped early


@dataclass(frozen=True)
class Fetched:
    records: tuple[tuple[Record, str], ...]  # (record, the ListEntry fingerprint it answers)
    errors: tuple[tuple[str, SourceError], ...] = ()  # (key, error)


class Source(Protocol):
    """A place records come from. Implementations hold their own HTTP client."""

    @property
    def id(self) -> str: ...

    def list(self, since: date, until: date) -> Listing:
        """Every item touched (tabled, answered, corrected ...) between two dates, inclusive."""
        ...

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        """The full, normalised record of each entry."""
        ...

    def close(self) -> None: ...
