"""The Store role: the only shared state, and where the polling and sending halves meet.

Contract for every implementation (SQLite and PostgreSQL run the same conformance suite):

- ``commit`` writes one poll's records, events, matches and ledger rows and the source's state
  in ONE transaction, and is idempotent: committing the same outcome twice changes nothing
  (unique keys on record versions, events, matches and ledger rows).
- Every distinct version of a record is kept (``record_version``), so an event can always show
  the version it replaced.
- A ledger row is (subscription, event), unique: a subscriber never gets the same event twice.
- ``create_delivery`` claims pending ledger rows for one message atomically, all of them or
  none, and writes the rendered message into the outbox in the same transaction; with several
  replicas, two claims never share a row.
- ``claim_due`` hands each due outbox row to one sender at a time (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL, a conditional ``UPDATE ... RETURNING`` on SQLite), for ``CLAIM_FOR``; a
  sender that dies loses its claim when that ends. A row is marked sent only by
  ``mark_sent``, which the caller invokes after the channel accepted the message; ``sent``,
  ``dead`` and ``dropped`` are final until an operator revives a dead row.
- The search index (``candidates``) always describes the current version of every record: it
  is written by ``commit`` and ``commit_records`` in their transaction. It is a filter, never
  a verdict: it may return records a rule does not match, never leave out one it does.
- ``match_inputs`` gives exactly the values the decoded current record gives the matcher
  (``Record.fields()`` and the metadata), so a backtest decides on the document a poll would,
  and the body that ``diff.life_events`` dates the item's events by.
- Times are timezone-aware UTC datetimes in and out.
- Database failures raise ``StoreError``; every method (``migrate`` and ``schema_status``
  included) raises its subclass ``StoreUnavailableError`` when the database cannot be reached
  or opened (refused, unknown host, timeout, authentication, no such database, too many
  connections, shutting down; an SQLite file or directory that cannot be created, opened or
  written), with a one-line message: the driver's or the OS's reason, never SQL or a password,
  and not the URL, which the caller adds.
- ``open_store`` touches neither the disk nor the network; ``migrate`` is the first write (it
  creates an SQLite file's directory), and ``schema_status`` only reads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from watcher.incidents import Kind, Notice
from watcher.model import Body, Event, EventId, Hit, Match, Record


@dataclass(frozen=True)
class SourceState:
    source: str
    last_poll: datetime | None = None
    last_ok: datetime | None = None  # start of the last poll that completed without error
    last_error: str | None = None  # cleared by a successful poll
    last_error_at: datetime | None = None
    error_count: int = 0  # consecutive failed polls
    cursor: Mapping[str, str] | None = None  # what the source's last listing said (``Listing``)
    # Health (``watcher.incidents``); None: not known (no poll since the store kept them).
    items_listed: int | None = None  # entries the last poll listed
    items_new: int | None = None  # items it brought that were never stored before
    parse_errors: int | None = None  # its items and listing that did not parse
    last_new_at: datetime | None = None  # start of the last poll that brought a new item
    first_poll: datetime | None = None
    failing_since: datetime | None = None  # the first failed poll of the current run
    incidents: Mapping[Kind, datetime] = field(default_factory=dict)  # open ones, since when


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a source's polling lease: the name it took the lease under (``host:pid`` for
    the service) and when it took it."""

    holder: str
    since: datetime


@dataclass(frozen=True)
class LedgerEntry:
    """Event ``event`` (by identity) is owed to subscription ``subscription_id``."""

    subscription_id: str
    event: EventId


@dataclass(frozen=True)
class PollHealth:
    """What a poll saw and decided about its source's health (``watcher.incidents``)."""

    listed: int
    new: int
    parse_errors: int
    failing_since: datetime | None
    incidents: Mapping[Kind, datetime]  # open after this poll
    notices: Sequence[tuple[str, Notice]] = ()  # (operator id, notice) to send


@dataclass(frozen=True)
class StoredNotice:
    """A notice for one operator, as kept until it is sent."""

    id: int
    operator: str
    notice: Notice
    attempts: int = 0
    last_error: str | None = None
    next_attempt: datetime | None = None
    sent: datetime | None = None


@dataclass(frozen=True)
class PollOutcome:
    """Everything one poll of one source commits."""

    source: str
    started: datetime
    records: Sequence[tuple[Record, str]] = ()  # (record, listed fingerprint)
    events: Sequence[Event] = ()
    matches: Sequence[Match] = ()
    ledger: Sequence[LedgerEntry] = ()
    error: str | None = None  # None: the poll completed; the state's error is cleared
    cursor: Mapping[str, str] | None = None  # the listing's new cursor; None keeps the old one
    health: PollHealth | None = None  # None: the state's health is left as it was


@dataclass(frozen=True)
class CommitSummary:
    records: int  # new record versions written
    events: int  # new events
    ledger: int  # new ledger rows


@dataclass(frozen=True)
class PendingItem:
    """One ledger row with everything needed to render it."""

    ledger_id: int
    event: Event
    hits: Mapping[str, tuple[Hit, ...]] = field(default_factory=dict)  # rule id -> hits
    created: datetime | None = None
    subscription_id: str = ""


# How long a sender holds a claimed outbox row (``claim_due``, ``renew_claims``), unless the
# config says otherwise (``delivery.claim_for``). A sender that dies mid-send loses the row when
# this ends, and another sends it again under the same idempotency key.
CLAIM_FOR = timedelta(minutes=5)


class OutboxState(StrEnum):
    PENDING = "pending"  # to be sent, at ``next_attempt``
    SENT = "sent"  # the peer accepted it
    DEAD = "dead"  # a permanent failure, or failing for too long; ``outbox retry`` revives it
    DROPPED = "dropped"  # an operator gave up on it (``outbox drop``)


@dataclass(frozen=True)
class Outgoing:
    """What a claimed delivery sends: written into the outbox with the claim."""

    channel: str
    target: tuple[str, ...]
    format: str
    payload: str  # model.message_to_json: the bytes every attempt sends
    items: int = 0  # how many items the digest has


@dataclass(frozen=True)
class Claim:
    """One delivery to create: ``create_deliveries`` takes many in one transaction."""

    subscription_id: str
    idempotency_key: str
    ledger_ids: Sequence[int]
    period_end: datetime
    outgoing: Outgoing | None


@dataclass(frozen=True)
class Delivery:
    """One outbox row: a message for one subscription and how its sending went."""

    id: int
    subscription_id: str
    idempotency_key: str
    period_end: datetime
    created: datetime
    attempts: int = 0
    last_error: str | None = None
    next_attempt: datetime | None = None
    sent: datetime | None = None
    state: OutboxState = OutboxState.PENDING
    channel: str | None = None
    target: tuple[str, ...] = ()
    format: str | None = None
    payload: str | None = None  # None: nothing to send (every item's rule has left)
    parts_sent: int = 0
    last_attempt: datetime | None = None
    claimed_by: str | None = None
    items: int = 0


class PendingMigration(NamedTuple):
    version: int
    name: str


@dataclass(frozen=True)
class SchemaStatus:
    """What ``migrate`` would do to a store, seen without changing it."""

    exists: bool  # False: an SQLite file not created yet (PostgreSQL: the database must exist)
    applied: tuple[int, ...] = ()  # the versions applied, ascending
    pending: tuple[PendingMigration, ...] = ()  # what ``migrate`` would apply, in order
    unknown: tuple[int, ...] = ()  # applied versions this release does not know (a newer one's)

    @property
    def up_to_date(self) -> bool:
        return not self.pending


# Joins two folded words that stand next to each other in one field into one searchable word
# ("send_workforce"): folded words never contain it.
PAIR = "_"


class SearchWord(Protocol):
    """A folded word (``watcher.match.tokens.fold``) that every match contains; with ``prefix``,
    any word starting with it. ``watcher.match.Literal`` is one."""

    @property
    def text(self) -> str: ...

    @property
    def prefix(self) -> bool: ...


class Candidate(NamedTuple):
    """A stored record that may match: its identity and its day (the latest of its tabled,
    answered and corrected dates; the day it was first stored if it has none)."""

    source: str
    key: str
    day: date


class MatchInput(NamedTuple):
    """What a backtest reads of a stored record, and nothing else: its text fields as
    ``Record.fields()`` gives them (plain text: the title and the kind's texts), its facets,
    kind and source (what ``watcher.match.Metadata.of`` takes), and its body, which
    ``watcher.diff.life_events`` dates a question's events by, each as the ``Record`` has it.
    Reading only this skips decoding the whole record."""

    source: str
    kind: str
    texts: Mapping[str, str]
    facets: Mapping[str, tuple[str, ...]]
    body: Body | None

    def fields(self) -> dict[str, str]:
        return dict(self.texts)


@dataclass(frozen=True)
class StoredSpan:
    """How much history the store holds: ``count`` current records and the first and last of
    their days (``Candidate.day``), both None when it holds none."""

    count: int
    first_day: date | None
    last_day: date | None


class Store(Protocol):
    def migrate(self) -> None:
        """Create or upgrade the schema. Safe to call on every start, from several replicas."""
        ...

    def schema_status(self) -> SchemaStatus:
        """The schema as it is, and the migrations ``migrate`` would apply; creates and changes
        nothing (a missing SQLite file stays missing: a new store, every migration pending)."""
        ...

    def close(self) -> None: ...

    # --- polling half ---

    def source_state(self, source: str) -> SourceState:
        """The state of a source; a never-polled source gets an empty state."""
        ...

    def source_states(self) -> list[SourceState]: ...

    def lease(self, source: str, holder: str, at: datetime) -> bool:
        """Take the right to poll ``source``, without waiting: False while anyone holds it,
        this store included. The lease is a lock that ends with the process holding it,
        however it ends (``store/leases.py``: an advisory lock on PostgreSQL, a file lock
        beside an SQLite file): a holder killed mid-poll leaves it free at once, not after a
        timeout. ``holder`` and ``at`` are recorded only to say who holds it
        (``lease_holder``). A lease lost while held (its PostgreSQL connection broke) goes
        unnoticed by its holder, whose poll goes on while another may start one: harmless,
        as ``commit`` is idempotent."""
        ...

    def release(self, source: str) -> None:
        """Let go of ``source``'s lease if this store holds it; nothing otherwise. Closing the
        store lets go of every lease it holds."""
        ...

    def lease_holder(self, source: str) -> LeaseInfo | None:
        """Who holds ``source``'s lease now, as it named itself to ``lease``; None if nobody
        does (a holder that died is nobody), or the holder has not named itself yet."""
        ...

    def listed_fingerprints(self, source: str, keys: Iterable[str]) -> dict[str, str]:
        """For each stored key among ``keys``: the listed fingerprint its record was fetched
        for. Keys never stored are absent."""
        ...

    def current(self, source: str, keys: Iterable[str]) -> dict[str, Record]:
        """The latest stored version of each known key."""
        ...

    def commit(self, outcome: PollOutcome) -> CommitSummary:
        """Write a poll in one transaction; idempotent. Records the error if ``outcome.error``,
        else marks the poll OK. With ``outcome.health``: the state's health as given
        (``last_new_at`` becomes the poll's start if it brought something new, ``first_poll``
        is set once), and each notice stored unsent, once per (source, kind, opened, since,
        operator) however often it is committed."""
        ...

    def record_error(self, source: str, error: str, at: datetime) -> None:
        """Record a failed poll that had nothing to commit."""
        ...

    def commit_records(
        self, source: str, found: Sequence[tuple[Record, str]], at: datetime
    ) -> CommitSummary:
        """Store records (record, listed fingerprint) seen at ``at`` as ``commit`` does, in one
        transaction and idempotently, but nothing else: no events, matches or ledger rows, and
        the source's state is left alone (a backfill is not a poll). ``events`` and ``ledger``
        of the summary are 0."""
        ...

    # --- history ---

    def candidates(
        self,
        required: Sequence[Collection[SearchWord]] | None,
        source: str | None = None,
        since: date | None = None,
    ) -> list[Candidate]:
        """Stored records, by their current version, that contain at least one word of EVERY
        group in ``required``, in some text field (heading, question or answer; a prefix word
        matches any word it begins). A word may be a pair, two folded words joined by
        ``PAIR``: the two must stand next to each other in that order in one field (a prefix
        pair: the second word begins with the given text). ``required`` None or empty: every
        record; an empty group: none. Only ``source``'s records if given, and only those
        whose day is ``since`` or later if given. Newest day first."""
        ...

    def match_inputs(self, source: str, keys: Iterable[str]) -> dict[str, MatchInput]:
        """What the matcher reads of the current version of each known key (``MatchInput``),
        read without decoding the whole record; the same values as the ``Record`` that
        ``current`` gives. Keys never stored are absent."""
        ...

    def stored_span(self, source: str | None = None) -> StoredSpan:
        """How many current records the store holds, of ``source`` or of every source, and
        the first and last of their days, as ``candidates`` dates them."""
        ...

    # --- sending half ---

    def pending(self, subscription_id: str, before: datetime) -> list[PendingItem]:
        """Ledger rows of a subscription not yet claimed by a delivery, created before
        ``before``, oldest first."""
        ...

    def create_delivery(
        self,
        subscription_id: str,
        idempotency_key: str,
        ledger_ids: Sequence[int],
        period_end: datetime,
        now: datetime,
        outgoing: Outgoing | None,
    ) -> Delivery | None:
        """Claim every one of the given ledger rows for a new delivery and write ``outgoing``
        into the outbox, due at ``now``; all in one transaction. Returns None, claiming
        nothing, if any of the rows was claimed already (another replica took them: read the
        pending rows again). If a delivery with this key exists, returns it unchanged.
        ``outgoing`` None (nothing left to say) records the delivery as sent at ``now``."""
        ...

    def pending_many(
        self, subscription_ids: Collection[str], before: datetime
    ) -> dict[str, list[PendingItem]]:
        """``pending`` for many subscriptions in one read; only those with rows are keys."""
        ...

    def create_deliveries(self, claims: Sequence[Claim], now: datetime) -> list[Delivery | None]:
        """``create_delivery`` for each claim, in one transaction; each claim is still all of
        its rows or none (a savepoint each), and one claim that loses takes nothing from the
        others."""
        ...

    def claim_due(
        self,
        holder: str,
        now: datetime,
        *,
        limit: int = 100,
        due_by: datetime | None = None,
        attempted_before: datetime | None = None,
        claim_for: timedelta = CLAIM_FOR,
    ) -> list[Delivery]:
        """Up to ``limit`` pending outbox rows due by ``due_by`` (default ``now``) that no
        live claim holds (and, with ``attempted_before``, not attempted since), now claimed by
        ``holder`` until ``now + claim_for``; soonest due first."""
        ...

    def delivery_items(self, delivery_id: int) -> list[PendingItem]: ...

    def mark_sent(self, delivery_id: int, at: datetime) -> None:
        """The peer accepted it. A repeat, or a row no longer pending, is left alone."""
        ...

    def mark_sent_many(self, delivery_ids: Collection[int], at: datetime) -> None:
        """``mark_sent`` for several rows in one transaction."""
        ...

    def renew_claims(
        self,
        delivery_ids: Collection[int],
        holder: str,
        now: datetime,
        claim_for: timedelta = CLAIM_FOR,
    ) -> set[int]:
        """Extend ``holder``'s claim on the rows to ``now + claim_for``; the ids still its."""
        ...

    def mark_failed(
        self,
        delivery_id: int,
        error: str,
        at: datetime,
        next_attempt: datetime,
        parts_sent: int = 0,
    ) -> None:
        """An attempt failed: try again at ``next_attempt``; ``parts_sent`` bodies are done."""
        ...

    def mark_dead(self, delivery_id: int, error: str, at: datetime, parts_sent: int = 0) -> None:
        """An attempt failed for good: the row is dead until an operator revives it."""
        ...

    def defer(self, delivery_id: int, until: datetime, at: datetime) -> None:
        """Give the row back unattempted, due at ``until`` (its destination is throttled)."""
        ...

    def outbox(
        self,
        state: OutboxState | None = None,
        channel: str | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Outbox rows, newest first, filtered by state, channel and subscription."""
        ...

    def delivery(self, delivery_id: int) -> Delivery | None: ...

    def revive(self, delivery_ids: Collection[int] | None, now: datetime) -> list[int]:
        """Make dead rows pending again, due at ``now`` with their failures forgotten: those
        in ``delivery_ids``, or every dead row when it is None. The ids revived."""
        ...

    def drop(self, delivery_id: int, at: datetime) -> bool:
        """Give up on a pending or dead row for good; False if it is not one."""
        ...

    def outbox_counts(self) -> dict[OutboxState, int]:
        """How many outbox rows are in each state."""
        ...

    def next_due(self) -> datetime | None:
        """When the soonest pending outbox row is due, if any is pending."""
        ...

    def first_reports(
        self, subscription_id: str, items: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """For each (source, key), the idempotency key of the first message sent to the
        subscription that reported that item, where one was: what a follow-up threads under."""
        ...

    # --- operators' notices ---

    def unsent_notices(self, operator: str, now: datetime) -> list[StoredNotice]:
        """The operator's notices not yet sent whose next attempt is due by ``now``, oldest
        first."""
        ...

    def mark_notice(
        self,
        notice_id: int,
        at: datetime,
        error: str | None = None,
        next_attempt: datetime | None = None,
    ) -> None:
        """Without ``error``: the notice was sent at ``at`` (a repeat is harmless). With it: an
        attempt failed, to be tried again at ``next_attempt``."""
        ...
