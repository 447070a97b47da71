"""Assembles a running service from a validated ``Config``: opens the store (and applies its
migrations), the sources, the channels, compiles the rules. Owns the parts' lifetimes.

``watcher run`` may start before its database (containers, Kubernetes): ``wait_for_store``
tries again with backoff instead of exiting, logging each try and leaving the reason where
``watcher health`` reports it. Every other command opens the store with ``open_migrated_store``
and fails at once with a message naming the store (password hidden) and the reason.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from watcher import schedule
from watcher.channels import ChannelContext, open_channel
from watcher.config import Config
from watcher.errors import StoreError, StoreUnavailableError, WatcherError
from watcher.logs import q, redact_url
from watcher.match import Rule, RuleSet, parse
from watcher.pipeline import Service
from watcher.render import Renderer, source_licences
from watcher.sources import open_source
from watcher.store import Store, open_store

log = logging.getLogger(__name__)

STORE_RETRY_FIRST = timedelta(seconds=1)
STORE_RETRY_MAX = timedelta(seconds=30)


def build(
    config: Config,
    clock: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
    store: Store | None = None,
) -> Service:
    """Open every part. ``transport`` replaces the network for every source (tests, demo);
    ``store``, already open and migrated, is used instead of opening the config's."""
    store = store if store is not None else open_migrated_store(config)
    renderer = Renderer(config.templates, source_licences(config))
    try:
        renderer.check()  # a broken template fails here, not at the first send
        # Compiled once: the prefilter automaton over every rule is built here, not per poll.
        rules = RuleSet(
            Rule(
                id=r.id,
                query=parse(r.query, synonyms=config.synonyms),
                events=frozenset(r.events) if r.events is not None else None,
                sources=frozenset(r.sources) if r.sources is not None else None,
            )
            for r in config.rules
        )
    except BaseException:
        store.close()
        raise
    now = clock or (lambda: datetime.now(UTC))
    context = ChannelContext.of(config)
    service = Service(
        config=config,
        store=store,
        sources={
            s.id: open_source(s, config.user_agent, transport, now, config.allow_private_networks)
            for s in config.sources
        },
        channels={c.id: open_channel(c, context) for c in config.all_channels()},
        rules=rules,
        subscriptions=config.resolved_subscriptions(),
        renderer=renderer,
        holder=f"{socket.gethostname()}:{os.getpid()}",
    )
    if clock is not None:
        service.clock = clock
    return service


def close(service: Service) -> None:
    for source in service.sources.values():
        source.close()
    for channel in service.channels.values():
        channel.close()
    service.store.close()


def open_migrated_store(config: Config) -> Store:
    """The config's store with its schema up to date, and the data folder created. Raises
    ``StoreError`` (of the driver's kind) naming the store, password hidden, and the reason;
    ``WatcherError`` if the data folder cannot be created."""
    try:
        return _migrated(config)
    except StoreError as exc:
        raise type(exc)(f"store {redact_url(config.store_url)}: {exc}") from exc


def _migrated(config: Config) -> Store:
    folder = Path(config.data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WatcherError(f"data_dir {folder}: cannot be created: {exc.strerror or exc}") from exc
    store = open_store(config.store_url)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def wait_for_store(config: Config, stop: threading.Event) -> Store | None:
    """``open_migrated_store``, tried again while the database cannot be reached, waiting 1 s,
    2 s, 4 s ... (at most ``STORE_RETRY_MAX``, with jitter) between tries. None if ``stop`` is
    set while waiting. A SQLite store is a file beside the service: waiting would not help, so
    its errors are raised at once, as are errors other than an unreachable database."""
    delay = STORE_RETRY_FIRST
    attempt = 0
    data_dir = Path(config.data_dir)
    while True:
        attempt += 1
        try:
            store = _migrated(config)
        except StoreUnavailableError as exc:
            if config.store_url.startswith("sqlite"):
                raise type(exc)(f"store {redact_url(config.store_url)}: {exc}") from exc
            wait = delay * random.uniform(0.5, 1.0)  # replicas do not retry in step
            log.warning(
                "event=store_unreachable store=%s attempt=%d retry_in=%.1fs error=%s",
                q(redact_url(config.store_url)),
                attempt,
                wait.total_seconds(),
                q(exc),
            )
            schedule.report_starting(data_dir, f"waiting for the store (try {attempt}): {exc}")
            if stop.wait(wait.total_seconds()):
                schedule.started(data_dir)  # not starting any more: stopped
                return None
            delay = min(delay * 2, STORE_RETRY_MAX)
            continue
        if attempt > 1:
            log.info(
                "event=store_reachable store=%s attempts=%d",
                q(redact_url(config.store_url)),
                attempt,
            )
        return store
