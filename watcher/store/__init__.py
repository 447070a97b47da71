"""The store: the only shared state, where the polling and sending halves meet.

``open_store(url)`` gives a ``Store`` (the contract is in ``base``) for ``sqlite:///path`` (the
default; one process or a few on one machine) or ``postgresql://...`` (several replicas). It does
not create tables: call ``store.migrate()`` once at start, as every command does. All SQL lives in
this package: ``schema`` (tables), ``migrations``, ``engine`` (per-backend set-up), ``queries`` and
``sql`` (the implementation), ``records`` (writing records), ``fulltext`` (the search index).
"""

from __future__ import annotations

from watcher.store.base import (
    Candidate,
    CommitSummary,
    Delivery,
    LedgerEntry,
    MatchInput,
    PendingItem,
    PollOutcome,
    SearchWord,
    SourceState,
    Store,
)
from watcher.store.engine import store_engine
from watcher.store.sql import SqlStore

__all__ = [
    "Candidate",
    "CommitSummary",
    "Delivery",
    "LedgerEntry",
    "MatchInput",
    "PendingItem",
    "PollOutcome",
    "SearchWord",
    "SourceState",
    "SqlStore",
    "Store",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store on ``url``. Raises ``StoreError`` for a URL it cannot use; connects lazily."""
    return SqlStore(store_engine(url))
