"""The store: the only shared state, where the polling and sending halves meet.

``open_store(url)`` gives a ``Store`` (the contract is in ``base``) for ``sqlite:///path`` (the
default; one process or a few on one machine) or ``postgresql://...`` (several replicas). It
touches neither the disk nor the network, and does not create tables: call ``store.migrate()``
once at start, as every command does (it creates an SQLite file's directory, then the schema).
``store.schema_status()`` says, without changing anything, what ``migrate`` would do. A database
that cannot be reached or opened raises ``StoreUnavailableError`` (a ``StoreError``) from any
method, with a one-line reason.

All SQL lives in this package: ``schema`` (today's tables), ``migrations`` and ``history`` (the
frozen steps from nothing to today), ``engine`` (per-backend set-up), ``queries`` and ``sql``
(the implementation), ``records`` (writing records), ``fulltext`` (the search index),
``failures`` (database errors as ours), ``status`` (the read-only look at the schema),
``leases`` (the locks behind polling leases).
"""

from __future__ import annotations

from watcher.store.base import (
    Candidate,
    Claim,
    CommitSummary,
    Delivery,
    LeaseInfo,
    LedgerEntry,
    MatchInput,
    OutboxState,
    Outgoing,
    PendingItem,
    PendingMigration,
    PollHealth,
    PollOutcome,
    SchemaStatus,
    SearchWord,
    SourceState,
    Store,
    StoredNotice,
    StoredSpan,
)
from watcher.store.engine import store_engine
from watcher.store.sql import SqlStore

__all__ = [
    "Candidate",
    "Claim",
    "CommitSummary",
    "Delivery",
    "LeaseInfo",
    "LedgerEntry",
    "MatchInput",
    "OutboxState",
    "Outgoing",
    "PendingItem",
    "PendingMigration",
    "PollHealth",
    "PollOutcome",
    "SchemaStatus",
    "SearchWord",
    "SourceState",
    "SqlStore",
    "Store",
    "StoredNotice",
    "StoredSpan",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store on ``url``. Raises ``StoreError`` for a URL it cannot use; connects lazily and
    creates nothing until ``migrate``."""
    return SqlStore(store_engine(url))
