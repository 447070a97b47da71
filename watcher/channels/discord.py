"""Discord webhooks: each body of a message (embeds, ``render.discord``) POSTed, in order, to
the configured URL with ``wait=true`` added to its query (every other parameter, such as
``thread_id``, kept as written), so Discord answers once the message is posted, or says why
not, instead of accepting it blind.

    200, 204         posted
    429              retried after the ``retry_after`` Discord's JSON answer gives (seconds, a
                     fraction), or its Retry-After header, whichever is longer
    400, 401, 403,   permanent: a payload refused, a webhook deleted or its token wrong
    404, 410
    5xx, no answer   retried

Discord allows a webhook about five requests per two seconds and says how many are left in
``X-RateLimit-Remaining``: posts to one URL start at least ``min_interval`` apart (default
0.5 s), and none starts before ``X-RateLimit-Reset-After`` when the bucket is empty.
"""

from __future__ import annotations

import json
from datetime import timedelta

from watcher.channels.web import WebChannel
from watcher.http import PostResponse
from watcher.model import Message

MIN_INTERVAL = timedelta(milliseconds=500)


def with_wait(url: str) -> str:
    """``url`` with ``wait=true`` in its query and everything else in it as written."""
    base, hash_, fragment = url.partition("#")
    path, _, query = base.partition("?")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] != "wait"]
    return f"{path}?{'&'.join([*kept, 'wait=true'])}{hash_}{fragment}"


class DiscordChannel(WebChannel):
    MIN_INTERVAL = MIN_INTERVAL

    def url_of(self, url: str) -> str:
        return with_wait(url)

    def post_part(self, message: Message, part: int, body: str) -> str:
        reply = self._endpoint.post(body)
        if reply.status in (200, 204):
            if reply.headers.get("x-ratelimit-remaining") == "0":
                self._endpoint.hold(_seconds(reply.headers.get("x-ratelimit-reset-after")))
            return f"{reply.status} posted"
        if reply.status == 429:
            wait = max(_retry_after(reply), reply.retry_after or 0.0)
            self._endpoint.hold(wait)
            raise self._endpoint.failure(reply, retry_after=wait)
        raise self._endpoint.failure(reply)


def _retry_after(reply: PostResponse) -> float:
    """Discord's ``retry_after`` from a 429's JSON body, in seconds; 0 if it has none."""
    try:
        data = json.loads(reply.text)
    except ValueError:
        return 0.0
    return _seconds(data.get("retry_after") if isinstance(data, dict) else None)


def _seconds(value: object) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    # A NaN or a negative number is no wait; an absurd one is capped at a day.
    return min(seconds, 86400.0) if seconds > 0 else 0.0
