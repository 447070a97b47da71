"""A polite, thread-safe JSON-over-HTTP client for sources.

Polite means: a descriptive User-Agent on every request, a timeout on every request, at most
``max_concurrency`` requests in flight and at most ``max_per_second`` started per second across
all threads, and retries with exponential backoff and jitter on 429, 5xx and transport failures,
honouring ``Retry-After`` when the server sends one.

This is the one place where httpx exceptions are translated into ours:

    FetchError   the network or the server failed (after retries), or a 4xx other than 429
    ParseError   a 200 whose body is not JSON

What the JSON means is left to the source that asked for it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from watcher.errors import FetchError, ParseError
from watcher.logs import q

logger = logging.getLogger(__name__)

Params = Mapping[str, str | int | float | bool]


class _RateLimiter:
    """Spaces request starts at least ``1 / per_second`` apart, across threads."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0  # monotonic time of the next free slot
        self._lock = threading.Lock()

    def wait(self) -> None:
        # Reserve a slot under the lock but sleep outside it, so waiting threads queue up
        # behind each other instead of behind the lock.
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class _Retry(Exception):  # noqa: N818 - a control-flow signal, not an error we raise
    """One failed attempt that may be retried."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class PoliteClient:
    """GETs JSON from one base URL. Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        user_agent: str,
        timeout: float,
        max_concurrency: int,
        max_per_second: float,
        retries: int,
        backoff: float,
        max_retry_after: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_concurrency < 1 or max_per_second <= 0 or retries < 0:
            raise ValueError("max_concurrency >= 1, max_per_second > 0 and retries >= 0")
        self._retries = retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._limiter = _RateLimiter(max_per_second)
        self._client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            transport=transport,
            follow_redirects=True,
        )

    def get_json(self, path: str, params: Params | None = None) -> Any:
        """The decoded JSON body of ``GET path``. Raises ``FetchError`` or ``ParseError``."""
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(path, params)
            except _Retry as retry:
                if attempt == attempts:
                    raise FetchError(
                        f"GET {path} failed after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''}: {retry.reason}"
                    ) from retry.__cause__
                wait = self._wait(path, retry, attempt)
                logger.warning(
                    "event=http_retry path=%s status=%s attempt=%d wait=%.3f reason=%s",
                    path,
                    retry.status if retry.status is not None else "-",
                    attempt,
                    wait,
                    q(retry.reason),
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._client.close()

    def _wait(self, path: str, retry: _Retry, attempt: int) -> float:
        if retry.retry_after is not None:
            if retry.retry_after > self._max_retry_after:
                # A server that asks for a long pause gets it: we stop now and the next
                # scheduled poll tries again, instead of holding a worker asleep.
                raise FetchError(
                    f"GET {path}: {retry.reason} after {attempt} attempt"
                    f"{'s' if attempt > 1 else ''}; server asks to retry after "
                    f"{retry.retry_after:.0f}s, more than max_retry_after "
                    f"{self._max_retry_after:.0f}s"
                )
            return retry.retry_after
        # Full exponential step plus up to one step of jitter, so parallel workers spread out.
        step: float = self._backoff * 2.0 ** (attempt - 1)
        return step + random.uniform(0, step)

    def _attempt(self, path: str, params: Params | None) -> Any:
        with self._slots:
            self._limiter.wait()
            try:
                response = self._client.get(path, params=dict(params or {}))
            except httpx.TimeoutException as exc:
                raise _Retry(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _Retry(f"transport error ({type(exc).__name__}: {exc})") from exc
            except httpx.DecodingError as exc:
                raise ParseError(f"GET {path}: undecodable response body: {exc}") from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", status, _retry_after(response))
        if not 200 <= status < 300:
            # Other 4xx mean our request is wrong or the item is gone: asking again won't help.
            raise FetchError(f"GET {path}: HTTP {status} (not retried)")
        try:
            return json.loads(response.content)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            snippet = response.content[:60].decode("utf-8", "replace")
            raise ParseError(f"GET {path}: response is not JSON: {snippet!r}") from exc


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds from now (delta-seconds or HTTP-date), if present and valid."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
