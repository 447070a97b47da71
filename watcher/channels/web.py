"""What the channels that POST JSON to one URL share (``slack``, ``teams``, ``discord``,
``webhook``): the endpoint they post to, sending a message's bodies in order, and the
``DeliveryError`` an answer that is not a success deserves.

    endpoint = Endpoint(config.id, url, context, timeout=..., min_interval=...)
    answers = send_parts(message, lambda part, body: judge(endpoint.post(body)))
    raise endpoint.failure(reply, permanent=PERMANENT)

The URL is posted to exactly as given and shown only masked (``logs.masked_url``); the body is
the stored payload, byte for byte, on every attempt. Posts to one URL keep ``min_interval``
apart (``pacing``). Each channel decides what success is; the rules for the rest are shared:

    3xx              permanent: we follow no redirect (a webhook that moved is the operator's
                     to fix, and following it would post the body somewhere nobody
                     configured); ``watcher outbox retry`` once the URL is mended
    429              retried, after Retry-After (the outbox honours ``retry_after``)
    the channel's    permanent: the same bytes to the same URL get the same answer (400, 401,
    own list         403, 404, 410 for most)
    anything else    retried (408, 5xx, the unexpected): at least once is worth a few more
                     attempts, and a message failing for ``delivery.give_up_after`` is dead
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from http import HTTPStatus

from watcher.channels.base import ChannelContext
from watcher.channels.pacing import PACER, Pacer
from watcher.config import (
    DiscordChannelConfig,
    SlackChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)
from watcher.errors import DeliveryError
from watcher.http import ChannelClient, PostResponse
from watcher.logs import masked_url, redact, url_secrets
from watcher.model import Message
from watcher.text import strip_control

log = logging.getLogger(__name__)

PERMANENT = frozenset({400, 401, 403, 404, 410})
_SHOWN = 300  # characters of a peer's answer quoted in an error


class Endpoint:
    """One URL a channel posts to: its client, its pace, how it may be shown (``shown``)."""

    def __init__(
        self,
        channel_id: str,
        url: str,
        context: ChannelContext,
        *,
        timeout: timedelta,
        min_interval: timedelta | None,
        default_interval: timedelta = timedelta(0),
        pacer: Pacer = PACER,
    ) -> None:
        self.channel_id = channel_id
        self.url = url
        self.shown = masked_url(url)
        self._deadline = timeout.total_seconds()
        # None: the peer's usual limit; 0s: no pace at all.
        self._interval = (
            default_interval if min_interval is None else min_interval
        ).total_seconds()
        self._pacer = pacer
        self._client = ChannelClient(
            context.user_agent,
            allow_private_networks=context.allow_private_networks,
            deadline=self._deadline,
        )

    def post(
        self,
        body: str,
        headers: Mapping[str, str] | None = None,
        sign: Callable[[str], Mapping[str, str]] | None = None,
    ) -> PostResponse:
        """POST ``body`` (UTF-8 JSON) once the pace allows, with ``headers`` and those ``sign``
        makes just before it goes, and return the answer whatever its status. Raises
        ``DeliveryError`` naming the channel when no answer came (``http.post``), or when the
        wait for the pace (the sender's lanes queue up on one URL) or for a pause the peer
        asked for would outlast the channel's timeout."""
        try:
            data = body.encode()
        except UnicodeEncodeError:
            raise DeliveryError(
                f"channel {self.channel_id}: the message is not valid text (a bug in its format)",
                permanent=True,
            ) from None
        left = self._pacer.wait(self.url, self._interval, longest=self._deadline)
        if left:
            raise DeliveryError(
                f"channel {self.channel_id}: posts to {self.shown} wait {left:.0f}s more "
                "(its rate limit, or the pause it asked for)",
                retry_after=left,
            )
        sent = {"Content-Type": "application/json", **(headers or {})}
        if sign is not None:
            sent.update(sign(body))
        try:
            reply = self._client.post(self.url, data, sent)
        except DeliveryError as exc:
            raise DeliveryError(
                f"channel {self.channel_id}: {exc}",
                permanent=exc.permanent,
                retry_after=exc.retry_after,
            ) from exc
        log.debug(
            "event=channel_post channel=%s bytes=%d status=%d",
            self.channel_id,
            len(data),
            reply.status,
        )
        if reply.status == 429 and reply.retry_after is not None:
            self.hold(reply.retry_after)
        return reply

    def hold(self, seconds: float) -> None:
        """No post to this URL, from any channel of this process, for ``seconds``."""
        self._pacer.hold(self.url, seconds)

    def failure(
        self,
        reply: PostResponse,
        permanent: Collection[int] = PERMANENT,
        *,
        said: str | None = None,
        retry_after: float | None = None,
    ) -> DeliveryError:
        """The error for an answer that is not a success (see the module docstring), quoting
        ``said`` or else the peer's own words (``peer_text``)."""
        status = reply.status
        words = peer_text(reply, self.url) if said is None else said
        what = f"channel {self.channel_id}: {self.shown} answered {status_line(status)}" + (
            f": {words}" if words else ""
        )
        if 300 <= status < 400:
            return DeliveryError(
                f"{what} (a redirect; watcher follows none: configure the URL it points to)",
                permanent=True,
            )
        if status == 429:
            return DeliveryError(what, retry_after=retry_after or reply.retry_after)
        return DeliveryError(what, permanent=status in permanent)

    def close(self) -> None:
        self._client.close()


WebChannelConfig = (
    SlackChannelConfig | TeamsChannelConfig | DiscordChannelConfig | WebhookChannelConfig
)


class WebChannel:
    """What every HTTP channel is: an ``Endpoint`` for its URL, ``send`` posting each part in
    order, and ``close``. A channel says how a part is posted and what its peer's answer
    means (``post_part``), its usual pace (``MIN_INTERVAL``) and, if it must, how its URL is
    posted to (``url_of``)."""

    MIN_INTERVAL = timedelta(0)

    def __init__(self, config: WebChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._endpoint = Endpoint(
            config.id,
            self.url_of(config.url),
            context,
            timeout=config.timeout,
            min_interval=config.min_interval,
            default_interval=self.MIN_INTERVAL,
        )

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def format(self) -> str:
        return self._config.format

    def url_of(self, url: str) -> str:
        """The URL posted to: the configured one, as written."""
        return url

    def send(self, message: Message, target: tuple[str, ...]) -> str:
        answers = send_parts(message, lambda part, body: self.post_part(message, part, body))
        return accepted(self._endpoint.shown, answers)

    def post_part(self, message: Message, part: int, body: str) -> str:
        """Post one body; the peer's answer in words, or raise ``DeliveryError``."""
        raise NotImplementedError

    def close(self) -> None:
        self._endpoint.close()


def send_parts(message: Message, post: Callable[[int, str], str]) -> list[str]:
    """Post each body of ``message`` in order with ``post(part, body)`` (``part``: its place in
    the whole message, from 0) and return their answers. A failure after k bodies were
    accepted raises ``DeliveryError(parts_sent=k)``; a message with no body is a permanent
    failure (a format that does not fit the channel)."""
    if not message.bodies:
        raise DeliveryError("the message has no body to post", permanent=True)
    answers: list[str] = []
    for n, body in enumerate(message.bodies):
        part = message.first_part + n
        try:
            answers.append(post(part, body))
        except DeliveryError as exc:
            where = f" (part {part + 1} of {message.parts})" if message.parts > 1 else ""
            raise DeliveryError(
                f"{exc}{where}",
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                parts_sent=n,
            ) from exc
    return answers


def accepted(shown: str, answers: list[str]) -> str:
    """What a channel's ``send`` returns: who accepted the message, and how it put it."""
    if len(answers) == 1:
        return f"{shown} accepted it: {answers[0]}"
    return f"{shown} accepted {len(answers)} parts: {'; '.join(dict.fromkeys(answers))}"


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def peer_text(reply: PostResponse, url: str) -> str:
    """What the peer said, short, on one line, fit to quote: an API's error code and message
    when its answer is JSON that has them, else the text; without the URL's secret parts or
    any registered secret (a receiver may echo what it was sent)."""
    text = reply.text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        found: dict[str, object] = error if isinstance(error, dict) else data
        words = [str(found[k]) for k in ("code", "message") if found.get(k) not in (None, "")]
        text = ": ".join(words) or text
    return scrubbed(text, url)


def scrubbed(text: str, url: str, limit: int = _SHOWN) -> str:
    """``text`` on one line, at most ``limit`` characters, without control characters, the
    secret parts of ``url`` or any registered secret."""
    text = " ".join(strip_control(text).split())
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
