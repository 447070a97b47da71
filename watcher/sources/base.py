"""The Source role: how the pipeline gets records from the outside world.

A source works in two steps so that an unchanged poll costs list requests only:

1. ``list(since, until, cursor)`` pages through the source's listing for a date window and
   returns one ``ListEntry`` per item with a fingerprint of the entry *as listed*. If a page
   fails, it returns what earlier pages brought together with the error (``Listing.error``).
   An entry may carry its whole ``Record`` already (a feed's entries do); the pipeline then
   fetches nothing for it. The listing may return a new ``cursor`` (HTTP validators, ids seen)
   that the store keeps for the next poll.
2. ``fetch(entries)`` fetches the full item for the entries the pipeline asks for (those that
   are new or whose listed fingerprint changed, and carry no record) and normalises each into
   a ``Record``. An item that cannot be fetched is reported in ``Fetched.errors``; the others
   are still returned. A source whose entries are complete returns them as they are.

Neither method raises for network or server trouble: errors are values, so one failing page or
item never loses the rest. They raise only for bugs. Sources do not touch the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from watcher.errors import SourceError
from watcher.model import ListEntry, Record

# Where a source got to, kept for it between polls (HTTP validators, ids last seen ...): the
# source's own, stored as given and handed back on the next poll.
Cursor = Mapping[str, str]


@dataclass(frozen=True)
class Listing:
    entries: tuple[ListEntry, ...]
    error: SourceError | None = None  # set when the listing stopped early
    cursor: Cursor | None = None  # None: keep the cursor the poll started with
    # Keys of entries to store without an event: what a feed's first poll finds older than
    # its lookback, and an entry whose changes are churn. A poll keeps them silently.
    quiet: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Fetched:
    records: tuple[tuple[Record, str], ...]  # (record, the ListEntry fingerprint it answers)
    errors: tuple[tuple[str, SourceError], ...] = ()  # (key, error)


class Source(Protocol):
    """A place records come from. Implementations hold their own HTTP client."""

    @property
    def id(self) -> str: ...

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        """Every item touched (tabled, answered, corrected ...) between two dates, inclusive.

        ``cursor`` is what the last successful poll's listing returned (None the first time);
        a source that has no use for one ignores it. A source whose listing is its whole
        content (a feed) lists what it has whatever the dates, and may answer "unchanged" with
        no entries at all."""
        ...

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        """The full, normalised record of each entry."""
        ...

    def close(self) -> None: ...


__all__ = ["Cursor", "Fetched", "ListEntry", "Listing", "Source"]
