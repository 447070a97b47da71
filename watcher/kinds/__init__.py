"""Record kinds by name: the registry every part that differs by kind asks.

Adding a kind means one module with its ``Kind`` (see ``base``) and one line here. Pure: the
matcher and the digest read this, so nothing here does I/O.
"""

from __future__ import annotations

from watcher.kinds.base import Kind, LifeEvent, Stored
from watcher.kinds.devolved import NI_ASSEMBLY_QUESTIONS, SCOTTISH_PARLIAMENT_QUESTIONS
from watcher.kinds.published import (
    COMMITTEE_PUBLICATIONS,
    FEED_ENTRIES,
    HANSARD_CONTRIBUTIONS,
    WRITTEN_STATEMENTS,
)
from watcher.kinds.questions import WRITTEN_QUESTIONS

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        WRITTEN_QUESTIONS,
        WRITTEN_STATEMENTS,
        FEED_ENTRIES,
        HANSARD_CONTRIBUTIONS,
        COMMITTEE_PUBLICATIONS,
        SCOTTISH_PARLIAMENT_QUESTIONS,
        NI_ASSEMBLY_QUESTIONS,
    )
}

# What ``house:`` accepts, folded: Westminster's Houses, its joint committees, and the
# devolved legislatures whose questions are watched (``devolved``).
HOUSES = ("commons", "lords", "joint", "scottish parliament", "northern ireland assembly")

TITLE = "title"
TITLE_ALIASES = {"heading": TITLE}  # ``heading:`` came first, for questions' headings


def kind_of(name: str) -> Kind:
    """The kind a record names; an unknown one behaves like a plain published item."""
    return KINDS.get(name) or Kind(name=name, noun=name, texts=(), facets=(), licence="")


def text_names() -> tuple[str, ...]:
    """Every text a rule can name: the title, then each kind's texts, first seen first."""
    names = dict.fromkeys((TITLE, *TITLE_ALIASES))
    for kind in KINDS.values():
        names.update(dict.fromkeys(kind.texts))
    return tuple(names)


def facet_names() -> tuple[str, ...]:
    names: dict[str, None] = {}
    for kind in KINDS.values():
        names.update(dict.fromkeys(kind.facets))
    return (*names, "type", "source")


def nouns() -> tuple[str, ...]:
    """What readers call the kinds (``question``, ``statement`` ...), each once."""
    return tuple(dict.fromkeys(k.noun for k in KINDS.values()))


__all__ = [
    "HOUSES",
    "KINDS",
    "TITLE",
    "TITLE_ALIASES",
    "Kind",
    "LifeEvent",
    "Stored",
    "facet_names",
    "kind_of",
    "nouns",
    "text_names",
]
