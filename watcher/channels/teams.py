"""Microsoft Teams through a Workflows webhook (Power Automate's "When a Teams webhook request
is received"): each body of a message (an Adaptive Card, ``render.teams``) POSTed to the URL
exactly as configured, its ``api-version``, ``sp``, ``sv`` and ``sig`` untouched, in order.

    200             posted
    202             accepted: queued by Power Automate, which runs the flow that posts the card
                    later. watcher cannot see that run: a flow that fails afterwards (a card it
                    cannot post, a deleted chat) is reported in the flow's run history, not here
    400, 401, 403,  permanent: a payload refused, a signature (``sig``) that is wrong or
    404, 410        revoked, a flow that was deleted or turned off
    429, 5xx        retried (after Retry-After)

Posts to one URL start at least ``min_interval`` apart (default 1 s): Power Automate throttles
a flow's trigger.
"""

from __future__ import annotations

from datetime import timedelta

from watcher.channels.web import WebChannel
from watcher.model import Message

MIN_INTERVAL = timedelta(seconds=1)
QUEUED = "202 queued by Power Automate (posted when the flow runs; its run history shows how)"


class TeamsChannel(WebChannel):
    MIN_INTERVAL = MIN_INTERVAL

    def post_part(self, message: Message, part: int, body: str) -> str:
        reply = self._endpoint.post(body)
        if reply.status == 202:
            return QUEUED
        if reply.status == 200:
            return "200 posted"
        raise self._endpoint.failure(reply)
