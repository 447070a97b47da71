"""Sources by kind: the registry that turns a source's config into a ``Source``.

Adding a kind means adding its config class to ``watcher.config`` and one line here. The role
itself (what ``list`` and ``fetch`` promise) is described in ``watcher.sources.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from watcher.config import SourceConfig
from watcher.sources.base import Source
from watcher.sources.committees import CommitteePublications
from watcher.sources.feed import FeedSource
from watcher.sources.hansard import HansardContributions
from watcher.sources.ni import NiAssemblyQuestions
from watcher.sources.parliament import ParliamentWrittenQuestions
from watcher.sources.scottish import ScottishParliamentQuestions
from watcher.sources.statements import ParliamentWrittenStatements

Clock = Callable[[], datetime]
# (config, user agent, transport, clock, allow private networks) -> Source. The transport
# replaces the network (tests, demo); the clock is the service's, for a source that remembers
# when things happened; the flag is the config's ``allow_private_networks``, for a source that
# asks URLs a user wrote (``watcher.http.guard``). Each takes its own kind's config:
# ``SourceConfig`` is told apart by ``kind``, the key here.
SourceFactory = Callable[[Any, str, httpx.BaseTransport | None, Clock, bool], Source]

SOURCES: dict[str, SourceFactory] = {
    "parliament_written_questions": ParliamentWrittenQuestions,
    "parliament_written_statements": ParliamentWrittenStatements,
    "feed": FeedSource,
    "hansard": HansardContributions,
    "committee_publications": CommitteePublications,
    "scottish_parliament_questions": ScottishParliamentQuestions,
    "ni_assembly_questions": NiAssemblyQuestions,
}


def open_source(
    config: SourceConfig,
    user_agent: str,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    allow_private_networks: bool = False,
) -> Source:
    """The source a config describes, with its own HTTP client. Close it when done."""
    factory = SOURCES[config.kind]
    return factory(
        config, user_agent, transport, clock or (lambda: datetime.now(UTC)), allow_private_networks
    )
