"""Slack incoming webhooks: each body of a message (Block Kit JSON, ``render.slack``) POSTed
to the webhook URL exactly as configured, in order.

Slack answers in plain text. Success is 200 with ``ok``, and nothing else: a 200 with other
words is a failure, retried. The rest, as Slack documents them:

    400 invalid_payload, no_text, invalid_blocks ...   permanent: the same bytes get the same
                                                       answer (msg_blocks_too_long is ours: the
                                                       slack format made a message too long;
                                                       logged as an error to report)
    403 invalid_token, action_prohibited ...           permanent
    404 no_service, channel_not_found                  permanent: the webhook or its channel
    410 channel_is_archived                            is gone
    429                                                retried after Retry-After
    5xx, no answer                                     retried

Slack allows about one message per second per webhook: posts to one URL start at least
``min_interval`` apart (default 1 s), between the parts of a message and between messages.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from watcher.channels.web import WebChannel, peer_text
from watcher.model import Message

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(seconds=1)
# Slack's refusals of a payload our format made: never the subscriber's doing.
_OUR_BUG = frozenset({"msg_blocks_too_long", "invalid_blocks", "invalid_blocks_format"})


class SlackChannel(WebChannel):
    MIN_INTERVAL = MIN_INTERVAL

    def post_part(self, message: Message, part: int, body: str) -> str:
        reply = self._endpoint.post(body)
        said = reply.text.strip()
        if reply.status == 200 and said == "ok":
            return "200 ok"
        if reply.status == 200:
            words = peer_text(reply, self._endpoint.url) or "nothing"
            raise self._endpoint.failure(reply, said=f"{words}, not ok")
        if said in _OUR_BUG:
            log.error(
                "event=slack_refused_payload channel=%s key=%s part=%d status=%d error=%s bug=%s",
                self.id,
                message.idempotency_key,
                part + 1,
                reply.status,
                said,
                "watcher's slack format made a message Slack refuses: please report it",
            )
        raise self._endpoint.failure(reply)
