"""Matching queries against documents and rules against events: the public entry points.

A document is a mapping of field name to plain text (``Record.fields()``), optionally with the
record's metadata (``Document.from_record``). A term matches whole words inside ONE field, so a
phrase never runs from the heading into the question; AND, OR and NOT combine over the whole
document. Words compare by their folded form (case and accents ignored), except that a query
word written in capitals (SEND) only accepts a text word written in capitals. Each occurrence
of a non-negated term that contributed to a match is reported as a ``Hit`` spanning the whole
phrase in the original text; negated branches report nothing.

``match``/``match_document`` evaluate one query; ``RuleSet`` (in ``ruleset``) evaluates many
rules with a prefilter and is what the service builds once. ``match_events`` accepts either a
``RuleSet`` or a plain sequence of rules (compiled on the spot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from watcher.match.document import Document
from watcher.match.evaluate import CNode, compile_query, sorted_hits
from watcher.match.nodes import Node
from watcher.match.query import Query
from watcher.match.ruleset import Rule, RuleSet
from watcher.model import Event, Hit, Match

__all__ = [
    "Document",
    "Rule",
    "RuleSet",
    "match",
    "match_document",
    "match_events",
    "matches",
]


@lru_cache(maxsize=65536)
def _compiled(ast: Node) -> CNode:
    return compile_query(ast)


def match(query: Query, fields: Mapping[str, str]) -> tuple[Hit, ...] | None:
    """The hits of ``query`` in ``fields`` (sorted), or None if the query does not match."""
    return match_document(query, Document(fields))


def match_document(query: Query, document: Document) -> tuple[Hit, ...] | None:
    """Like ``match``, on a document already folded (and possibly carrying metadata)."""
    hits = _compiled(query.ast).eval(document)
    return None if hits is None else sorted_hits(hits)


def matches(query: Query, document: Document) -> bool:
    """Whether ``query`` matches ``document``: ``match_document(...) is not None``, without
    working out the hits (it stops at the first occurrence that decides)."""
    return _compiled(query.ast).matches(document)


def match_events(rules: RuleSet | Sequence[Rule], events: Sequence[Event]) -> list[Match]:
    """Every (rule, event) match, for the events each rule wants, in event order then rule order.

    Pass a ``RuleSet`` built once when matching often; a plain sequence is compiled each call."""
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    return ruleset.match_events(events)
