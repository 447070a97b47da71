"""An RSS or Atom feed as a ``Source``: every entry comes whole with the listing.

``list`` asks for the feed with a conditional GET (the ETag and Last-Modified it last got), so
an unchanged feed costs a 304 and nothing else. A changed one is parsed (``feed_parse``, pure)
into ``feed_entry`` records, each listed with its record and, as its listed fingerprint, the
record's own fingerprint: the title, link and text only, so a moved ``<updated>`` stamp or a
re-ordered feed changes nothing and makes no event. ``fetch`` has nothing to fetch.

Two rules need memory that neither the store nor the kind has, so the source keeps it in its
cursor (stored with the poll's records, in the same transaction) and says what to keep quiet
through ``Listing.quiet``: the pipeline stores those entries like any other and makes no event.

    first poll     no cursor yet: entries dated before today (UTC) minus ``lookback_days``,
                   and undated ones, are stored silently; the recent ones are ``published``.
                   Later polls alert every entry they have not seen, whatever its date.
    churn          per entry the cursor keeps its fingerprint, when it last changed and when
                   it was last announced as changed. A change after two announced changes
                   within 24 hours mutes the entry: its changes are stored silently until it
                   has gone a day without changing. Only entries in the current document are
                   remembered, so the cursor stays as small as the feed.

The cursor's idea of "changed" is the store's: both compare fingerprints, and both are written
by one commit. A failed poll (network, limits, a document with no readable entry) returns the
error and no cursor, so the store keeps its records and the cursor it had.

With ``fetch_content``, an entry on www.gov.uk that would make an event (new, or changed, and
not quiet) is listed without its record, and ``fetch`` reads its page's body from the GOV.UK
Content API (``govuk``) as its ``content``: a page that cannot be read is that entry's error,
so it is neither stored nor announced until a later poll of this process reads it (after a
restart, it is stored with the feed's summary alone).

Every request goes through ``PoliteClient``, with the config's ``timeout`` as the deadline for
the whole answer and its 10 MB limit, and the address guard unless ``allow_private_networks``
(a feed's URL is the user's); feedparser never fetches anything itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from watcher.config import FeedSourceConfig
from watcher.errors import SourceError
from watcher.http import PoliteClient, Validators
from watcher.logs import q
from watcher.model import ListEntry, Record
from watcher.sources.base import Cursor, Fetched, Listing
from watcher.sources.feed_parse import parse_feed
from watcher.sources.govuk import content_of, is_gov_uk

logger = logging.getLogger(__name__)

DAY = 24 * 3600
CHURN_ALERTS = 2  # changes announced within a day before an entry is muted
_FP = 16  # characters of a fingerprint the cursor keeps: enough to tell versions apart


class FeedSource:
    """One feed. Implements ``sources.base.Source``."""

    def __init__(
        self,
        config: FeedSourceConfig,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
        allow_private_networks: bool = False,
    ) -> None:
        self._config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._waiting: dict[str, Record] = {}  # listed entries whose content ``fetch`` reads
        self._unread: set[str] = set()  # entries whose content could not be read: try again
        seconds = config.timeout.total_seconds()
        self._client = PoliteClient(
            base_url=None,
            user_agent=user_agent,
            timeout=seconds,
            max_concurrency=1,
            max_per_second=10.0,  # one request a poll: the schedule is the politeness
            retries=config.retries,
            backoff=config.backoff.total_seconds(),
            max_retry_after=config.max_retry_after.total_seconds(),
            deadline=seconds,  # a feed is one answer: the timeout bounds all of it
            transport=transport,
            # A feed's URL (and its content API's) is the user's: guarded (watcher.http.guard).
            allow_private_networks=allow_private_networks,
        )

    @property
    def id(self) -> str:
        return self._config.id

    def list(self, since: date, until: date, cursor: Cursor | None = None) -> Listing:
        # A feed is what it is now: the window is not the feed's to choose.
        now = self._clock()
        memory = Memory.read(cursor)
        try:
            response = self._client.get(self._config.url, validators=memory.validators)
            if response.not_modified:
                logger.info("event=list_done source=%s status=304 entries=0", self.id)
                return Listing(())
            parsed = parse_feed(response.content, self.id, response.url, response.content_type)
        except SourceError as exc:
            logger.warning("event=list_failed source=%s error=%s", self.id, q(exc))
            return Listing((), error=exc)
        if parsed.problem:
            logger.warning(
                "event=feed_not_well_formed source=%s entries=%d problem=%s",
                self.id,
                len(parsed.records),
                q(parsed.problem),
            )
        cutoff = now.astimezone(UTC).date() - timedelta(days=self._config.lookback_days)
        quiet, remembered = decide(parsed.records, memory, now, cutoff)
        logger.info(
            "event=list_done source=%s status=%d entries=%d quiet=%d",
            self.id,
            response.status,
            len(parsed.records),
            len(quiet),
        )
        self._waiting = {
            r.key: r
            for r in parsed.records
            if self._config.fetch_content
            and r.key not in quiet
            and is_gov_uk(r.url)
            and (r.key in self._unread or _news(r, memory))
        }
        return Listing(
            tuple(
                ListEntry(r.key, r.fingerprint, None if r.key in self._waiting else r)
                for r in parsed.records
            ),
            cursor=remembered.cursor(response.validators),
            quiet=quiet,
        )

    def fetch(self, entries: Sequence[ListEntry]) -> Fetched:
        """The listing carried every entry whole, but for GOV.UK pages whose body the Content
        API gives (``fetch_content``)."""
        records: list[tuple[Record, str]] = []
        errors: list[tuple[str, SourceError]] = []
        for e in entries:
            if e.record is not None:
                records.append((e.record, e.fingerprint))
                continue
            listed = self._waiting.get(e.key)
            if listed is None:
                errors.append((e.key, SourceError("not in the feed's last listing")))
                continue
            try:
                body = content_of(self._client, self._config.content_api, listed.url)
            except SourceError as exc:
                logger.warning(
                    "event=content_failed source=%s key=%s error=%s", self.id, e.key, q(exc)
                )
                self._unread.add(e.key)
                errors.append((e.key, exc))
                continue
            self._unread.discard(e.key)
            texts = {**listed.texts, "content": body} if body is not None else listed.texts
            records.append((replace(listed, texts=texts), e.fingerprint))
        return Fetched(tuple(records), tuple(errors))

    def close(self) -> None:
        self._client.close()


def _news(r: Record, memory: Memory) -> bool:
    """Whether ``r`` is new to the feed's memory or changed since: what a poll announces."""
    seen = memory.entries.get(r.key)
    return seen is None or seen.fingerprint != r.fingerprint[:_FP]


# --- memory: pure ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What the source remembers of one entry, times in whole seconds since the epoch."""

    fingerprint: str
    changed: int | None = None  # when its fingerprint last changed
    announced: tuple[int, ...] = ()  # changes that made an event, the last day's
    muted: bool = False

    def encode(self) -> list[Any]:
        return [self.fingerprint, self.changed, list(self.announced), int(self.muted)]

    @staticmethod
    def decode(value: Any) -> Seen | None:
        if not (isinstance(value, list) and len(value) == 4 and isinstance(value[0], str)):
            return None
        fp, changed, announced, muted = value
        if not isinstance(changed, int | None) or not isinstance(announced, list):
            return None
        return Seen(fp, changed, tuple(a for a in announced if isinstance(a, int)), bool(muted))


@dataclass(frozen=True)
class Memory:
    """A feed's cursor, read: the validators to send, and what is known of each entry.
    ``first`` when there was no cursor at all: the feed has never been polled successfully."""

    first: bool
    validators: Validators | None
    entries: Mapping[str, Seen]

    @staticmethod
    def read(cursor: Cursor | None) -> Memory:
        if cursor is None:
            return Memory(True, None, {})
        etag, modified = cursor.get("etag"), cursor.get("last_modified")
        validators = Validators(etag, modified) if etag or modified else None
        try:
            raw = json.loads(cursor.get("entries") or "{}")
        except ValueError:
            raw = {}  # an unreadable memory forgets churn, never the feed's first poll
        entries: dict[str, Seen] = {}
        if isinstance(raw, dict):
            for key, value in raw.items():
                seen = Seen.decode(value)
                if seen is not None:
                    entries[key] = seen
        return Memory(False, validators, entries)

    def cursor(self, validators: Validators) -> dict[str, str]:
        out = {"entries": json.dumps({k: s.encode() for k, s in self.entries.items()})}
        if validators.etag:
            out["etag"] = validators.etag
        if validators.last_modified:
            out["last_modified"] = validators.last_modified
        return out


def decide(
    records: Iterable[Record], memory: Memory, now: datetime, cutoff: date
) -> tuple[frozenset[str], Memory]:
    """Which records to store without an event, and the memory to keep for next time (of
    these records only). ``cutoff``: on a first poll, entries dated before it are quiet."""
    t = int(now.timestamp())
    quiet: set[str] = set()
    kept: dict[str, Seen] = {}
    for r in records:
        fp = r.fingerprint[:_FP]
        before = memory.entries.get(r.key)
        if before is None:
            kept[r.key] = Seen(fp)
            if memory.first and (r.day is None or r.day < cutoff):
                quiet.add(r.key)
            continue
        stable_a_day = before.changed is None or t - before.changed >= DAY
        muted = before.muted and not stable_a_day
        announced = tuple(a for a in before.announced if t - a < DAY)
        if before.fingerprint == fp:
            kept[r.key] = Seen(fp, before.changed, announced, muted)
        elif muted or len(announced) >= CHURN_ALERTS:
            quiet.add(r.key)
            kept[r.key] = Seen(fp, t, announced, muted=True)
        else:
            kept[r.key] = Seen(fp, t, (*announced, t))
    return frozenset(quiet), Memory(False, memory.validators, kept)
