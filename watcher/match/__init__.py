"""Subscribers' rules: the query language and the matcher. Pure: no I/O.

    nodes.py     the AST (Term, And, Or, Not, Near, Synonym, Field, Meta) and canonical printer
    query.py     lexer and recursive-descent parser: ``parse(text, synonyms=...)``
    tokens.py    words with offsets into the original text; case and accent folding; plurals
    literals.py  what each query word accepts; ``literals(query)`` for candidate prefiltering
    document.py  a document folded once for matching (text fields + record metadata)
    evaluate.py  queries compiled to keys and checks; evaluation with hits, or yes/no
    atoms.py     queries planned as yes/no tests over which terms occur (for ``RuleSet``)
    ruleset.py   ``Rule`` and ``RuleSet``: many rules, one Aho-Corasick pass per document
    matcher.py   ``match``/``match_document``/``matches`` for one query, ``match_events``
    explain.py   ``explain(match)``: which terms matched where, in words

Building ``Rule`` values from configuration, storing matches and turning them into digests are
left to the pipeline, the store and ``digest``.
"""

from __future__ import annotations

from watcher.match.document import Document, Metadata
from watcher.match.explain import explain
from watcher.match.literals import Literal, literals
from watcher.match.matcher import match, match_document, match_events, matches
from watcher.match.nodes import And, Field, Meta, Near, Node, Not, Or, Synonym, Term
from watcher.match.query import Query, Synonyms, parse, to_string
from watcher.match.ruleset import Rule, RuleSet

__all__ = [
    "And",
    "Document",
    "Field",
    "Literal",
    "Meta",
    "Metadata",
    "Near",
    "Node",
    "Not",
    "Or",
    "Query",
    "Rule",
    "RuleSet",
    "Synonym",
    "Synonyms",
    "Term",
    "explain",
    "literals",
    "match",
    "match_document",
    "match_events",
    "matches",
    "parse",
    "to_string",
]
