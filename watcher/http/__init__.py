"""Outgoing HTTP: every request the service makes goes through one of two clients here, and
this package is where httpx's exceptions become ours.

    polite.PoliteClient   sources' GETs: polite (rate, concurrency, retries honouring
                          Retry-After), conditional, size- and time-limited → FetchError ...
    post.ChannelClient    channels' POSTs: once, no redirects, deadlined, the answer returned
                          for the channel to judge → DeliveryError
    guard                 refuses connections to private networks, checked at connect time
                          after DNS: for user-supplied URLs (webhooks, feeds)
    network               plugs our network backends (the guard, a deadline) into httpx
    response, headers     what a GET answers; Retry-After

Sources and channels see only the types exported here, never httpx's.
"""

from __future__ import annotations

from watcher.http.guard import GuardedBackend, RefusedAddress, Resolver, refusal, system_resolver
from watcher.http.headers import retry_after
from watcher.http.network import BackendTransport, DeadlineBackend, deadline
from watcher.http.polite import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, Params, PoliteClient
from watcher.http.post import ChannelClient, PostResponse, channel_transport
from watcher.http.response import Response, Validators, decode_json

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "BackendTransport",
    "ChannelClient",
    "DeadlineBackend",
    "GuardedBackend",
    "Params",
    "PoliteClient",
    "PostResponse",
    "RefusedAddress",
    "Resolver",
    "Response",
    "Validators",
    "channel_transport",
    "deadline",
    "decode_json",
    "refusal",
    "retry_after",
    "system_resolver",
]
