"""Subscribers' rules: the query language and the matcher. Pure: no I/O.

    query.py    lexer, recursive-descent parser, AST (Term, And, Or, Not) and canonical printer
    tokens.py   words with offsets into the original text; case and accent folding
    matcher.py  queries against documents (``match``), rules against events (``match_events``)

Building ``Rule`` values from configuration, storing matches and turning them into digests are
left to the pipeline, the store and ``digest``.
"""

from __future__ import annotations

from watcher.match.matcher import Document, Rule, match, match_document, match_events
from watcher.match.query import And, Node, Not, Or, Query, Term, parse, to_string

__all__ = [
    "And",
    "Document",
    "Node",
    "Not",
    "Or",
    "Query",
    "Rule",
    "Term",
    "match",
    "match_document",
    "match_events",
    "parse",
    "to_string",
]
