"""Keeping to a peer's rate limit: posts to one URL start at least an interval apart, from
this process, whichever channel makes them (two channels may name one webhook), and none
starts while the peer has asked for a pause (a 429's ``Retry-After``, Discord's bucket
running dry).

    PACER.wait(url, interval, longest)   0 once a post may start (after sleeping if need be),
                                         or the seconds still to go when that is longer than
                                         ``longest``: the caller fails fast rather than hold
                                         the sender for an hour
    PACER.hold(url, seconds)             no post to url before ``seconds`` from now

Only the timing is decided here; what a 429 means for the message is the outbox's call. A slot
is reserved before sleeping, so threads sharing a URL queue up instead of all waking together.
Keys are URLs, kept in memory only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}  # url → when the next post to it may start
        self._lock = threading.Lock()

    def wait(self, key: str, interval: float, longest: float) -> float:
        """Return 0 when a post to ``key`` may start, at least ``interval`` seconds after the
        previous one started; or, without waiting or reserving anything, how many seconds are
        left if that is more than ``longest``."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(key, now))
            if start - now > longest:
                return start - now
            self._next[key] = start + interval
        if start > now:
            self._sleep(start - now)
        return 0.0

    def hold(self, key: str, seconds: float) -> None:
        """No post to ``key`` may start within ``seconds`` from now."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._next[key] = max(self._next.get(key, until), until)


# One per process: a rate limit is the peer's, whichever channel reaches it.
PACER = Pacer()
