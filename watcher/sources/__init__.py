"""Sources by kind: the registry that turns a source's config into a ``Source``.

Adding a kind means adding its config class to ``watcher.config`` and one line here. The role
itself (what ``list`` and ``fetch`` promise) is described in ``watcher.sources.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from watcher.config import SourceConfig
from watcher.sources.base import Source
from watcher.sources.parliament import ParliamentWrittenQuestions
from watcher.sources.statements import ParliamentWrittenStatements

# (config, user agent, transport) -> Source. The transport replaces the network (tests, demo).
# Each factory takes its own kind's config; ``open_source`` hands it the one of that kind.
SourceFactory = Callable[[Any, str, httpx.BaseTransport | None], Source]

SOURCES: dict[str, SourceFactory] = {
    "parliament_written_questions": ParliamentWrittenQuestions,
    "parliament_written_statements": ParliamentWrittenStatements,
}


def open_source(
    config: SourceConfig, user_agent: str, transport: httpx.BaseTransport | None = None
) -> Source:
    """The source a config describes, with its own HTTP client. Close it when done."""
    return SOURCES[config.kind](config, user_agent, transport)
