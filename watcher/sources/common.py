"""What the sources that read a JSON API item by item share: a polite client built from their
config's HTTP settings, and fetching the details of many entries at once, each failure that
entry's own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

import httpx

from watcher.errors import SourceError
from watcher.http import PoliteClient
from watcher.model import ListEntry, Record
from watcher.sources.apijson import list_page
from watcher.sources.base import Fetched

logger = logging.getLogger(__name__)


class HttpSettings(Protocol):
    """The HTTP settings of a source's config (``config.sources``)."""

    @property
    def base_url(self) -> str: ...
    @property
    def timeout(self) -> timedelta: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def max_per_second(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff(self) -> timedelta: ...
    @property
    def max_retry_after(self) -> timedelta: ...


def api_client(
    config: HttpSettings, user_agent: str, transport: httpx.BaseTransport | None
) -> PoliteClient:
    """A client for one API, as polite as the config says."""
    return PoliteClient(
        base_url=config.base_url,
        user_agent=user_agent,
        timeout=config.timeout.total_seconds(),
        max_concurrency=config.max_concurrency,
        max_per_second=config.max_per_second,
        retries=config.retries,
        backoff=config.backoff.total_seconds(),
        max_retry_after=config.max_retry_after.total_seconds(),
        transport=transport,
    )


def fetch_each(
    source_id: str,
    entries: Sequence[ListEntry],
    one: Callable[[str], Record],
    workers: int,
) -> Fetched:
    """``one(key)`` for every entry, ``workers`` at a time, in listing order; an entry whose
    fetch raises ``SourceError`` is that entry's error and the others are kept."""

    def attempt(entry: ListEntry) -> Record | SourceError:
        try:
            return one(entry.key)
        except SourceError as exc:
            return exc

    records: list[tuple[Record, str]] = []
    errors: list[tuple[str, SourceError]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"fetch-{source_id}") as pool:
        for entry, result in zip(entries, pool.map(attempt, entries), strict=True):
            if isinstance(result, SourceError):
                logger.warning(
                    "event=fetch_failed source=%s key=%s error=%r",
                    source_id,
                    entry.key,
                    str(result),
                )
                errors.append((entry.key, result))
            else:
                records.append((result, entry.fingerprint))
    logger.info(
        "event=fetch_done source=%s records=%d errors=%d", source_id, len(records), len(errors)
    )
    return Fetched(records=tuple(records), errors=tuple(errors))


def list_values(
    client: PoliteClient, path: str, params: Mapping[str, str], page_size: int, source_id: str
) -> Iterator[Mapping[str, Any]]:
    """Every ``value`` of a Written Questions & Statements API listing (``{totalResults,
    results: [{value}]}``), page by page with ``skip``/``take``. Raises ``SourceError`` for
    a page that fails; the values before it have been yielded."""
    skip = 0
    while True:
        total, values = list_page(
            client.get_json(path, {**params, "skip": skip, "take": page_size})
        )
        yield from values
        skip += len(values)
        if skip >= total:
            return
        if not values:
            # Never trust totalResults enough to loop on it: a server that runs dry early
            # ends this listing, and the next poll will look again.
            logger.warning(
                "event=list_short source=%s total=%d got=%d params=%s",
                source_id,
                total,
                skip,
                ",".join(f"{k}={v}" for k, v in params.items()),
            )
            return
