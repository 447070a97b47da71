"""Assembles a running service from a validated ``Config``: opens the store (and applies its
migrations), the sources, the channels, compiles the rules. Owns the parts' lifetimes."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from watcher.channels import open_channel
from watcher.config import Config
from watcher.match import Rule, RuleSet, parse
from watcher.pipeline import Service
from watcher.render import Renderer
from watcher.sources import open_source
from watcher.store import open_store


def build(
    config: Config,
    clock: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Service:
    """Open every part. ``transport`` replaces the network for every source (tests, demo)."""
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    store = open_store(config.store_url)
    store.migrate()
    # Compiled once: the prefilter automaton over every rule is built here, not per poll.
    rules = RuleSet(
        Rule(
            id=r.id,
            query=parse(r.query, synonyms=config.synonyms),
            events=frozenset(r.events),
            sources=frozenset(r.sources) if r.sources is not None else None,
        )
        for r in config.rules
    )
    service = Service(
        config=config,
        store=store,
        sources={s.id: open_source(s, config.user_agent, transport) for s in config.sources},
        channels={c.id: open_channel(c, config.data_dir) for c in config.all_channels()},
        rules=rules,
        subscriptions=config.resolved_subscriptions(),
        renderer=Renderer(config.templates),
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
