"""A generic webhook: each body of a message (``render.webhook``'s versioned JSON,
``docs/webhook-payload.schema.json``) POSTed in order to the URL as configured, signed per
Standard Webhooks (https://www.standardwebhooks.com) with the ``standardwebhooks`` package:

    webhook-id         the message's idempotency key, the same on every attempt, so a receiver
                       can drop a repeat (watcher may send a message again after a crash between
                       the receiver's 2xx and our bookkeeping); for a message in several parts,
                       the key, "-" and the part's number from 1 (``<key>-2``)
    webhook-timestamp  when this attempt was made, in whole seconds since the epoch
    webhook-signature  ``v1,`` and base64 HMAC-SHA256, under the channel's ``secret``, of
                       ``<webhook-id>.<webhook-timestamp>.<body>``; made afresh on every attempt,
                       as receivers reject signatures more than five minutes old

    2xx                  delivered
    3xx                  permanent: we follow no redirect (configure the URL it points to, then
                         ``watcher outbox retry``)
    400, 401, 403, 404,  permanent
    410
    408, 429, 5xx, and   retried (429 after Retry-After)
    any other status

No pace unless ``min_interval`` is set: the receiver is the operator's own.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from standardwebhooks import Webhook

from watcher.channels.base import ChannelContext
from watcher.channels.web import WebChannel
from watcher.config import WebhookChannelConfig
from watcher.model import Message


def webhook_id(message: Message, part: int) -> str:
    """The ``webhook-id`` of ``part`` (from 0) of ``message``."""
    key = message.idempotency_key
    return key if message.parts <= 1 else f"{key}-{part + 1}"


class WebhookChannel(WebChannel):
    def __init__(self, config: WebhookChannelConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        self._signer = Webhook(config.secret)

    def post_part(self, message: Message, part: int, body: str) -> str:
        msg_id = webhook_id(message, part)
        reply = self._endpoint.post(body, sign=lambda data: self.headers(msg_id, data))
        if reply.ok:
            return f"{reply.status} (webhook-id {msg_id})"
        raise self._endpoint.failure(reply)

    def headers(self, msg_id: str, body: str) -> dict[str, str]:
        """The Standard Webhooks headers for ``body`` sent now."""
        stamp = int(time.time())
        signature = self._signer.sign(msg_id, datetime.fromtimestamp(stamp, UTC), body)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature,
        }
