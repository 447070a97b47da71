"""Sources by kind: the registry that turns a source's config into a ``Source``.

Adding a kind means adding its config class to ``watcher.config`` and one line here. The role
itself (what ``list`` and ``fetch`` promise) is described in ``watcher.sources.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from watcher.config import (
    CommitteePublicationsSourceConfig,
    FeedSourceConfig,
    HansardSourceConfig,
    NiQuestionsSourceConfig,
    ParliamentSourceConfig,
    ScottishQuestionsSourceConfig,
    SourceConfig,
    StatementsSourceConfig,
)
from watcher.sources.base import Source
from watcher.sources.committees import CommitteePublications
from watcher.sources.feed import FeedSource
from watcher.sources.hansard import HansardContributions
from watcher.sources.ni import NiAssemblyQuestions
from watcher.sources.parliament import ParliamentWrittenQuestions
from watcher.sources.scottish import ScottishParliamentQuestions
from watcher.sources.statements import ParliamentWrittenStatements

Clock = Callable[[], datetime]
# (config, user agent, transport, clock) -> Source. The transport replaces the network (tests,
# demo); the clock is the service's, for a source that remembers when things happened.
SourceFactory = Callable[[SourceConfig, str, httpx.BaseTransport | None, Clock], Source]


def _parliament(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, ParliamentSourceConfig)
    return ParliamentWrittenQuestions(c, user_agent, transport, clock)


def _statements(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, StatementsSourceConfig)
    return ParliamentWrittenStatements(c, user_agent, transport)


def _feed(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, FeedSourceConfig)
    return FeedSource(c, user_agent, transport, clock)


def _hansard(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, HansardSourceConfig)
    return HansardContributions(c, user_agent, transport)


def _committees(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, CommitteePublicationsSourceConfig)
    return CommitteePublications(c, user_agent, transport)


def _scottish(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, ScottishQuestionsSourceConfig)
    return ScottishParliamentQuestions(c, user_agent, transport)


def _ni(
    c: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None, clock: Clock
) -> Source:
    assert isinstance(c, NiQuestionsSourceConfig)
    return NiAssemblyQuestions(c, user_agent, transport)


SOURCES: dict[str, SourceFactory] = {
    "parliament_written_questions": _parliament,
    "parliament_written_statements": _statements,
    "feed": _feed,
    "hansard": _hansard,
    "committee_publications": _committees,
    "scottish_parliament_questions": _scottish,
    "ni_assembly_questions": _ni,
}


def open_source(
    config: SourceConfig,
    user_agent: str,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> Source:
    """The source a config describes, with its own HTTP client. Close it when done."""
    return SOURCES[config.kind](config, user_agent, transport, clock or (lambda: datetime.now(UTC)))
