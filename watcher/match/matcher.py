"""Evaluating parsed queries against documents, and rules against events.

A document is a mapping of field name to plain text (``Record.fields()``). A term matches whole
words inside ONE field, so a phrase never runs from the heading into the question; AND, OR and
NOT combine over the whole document. Words compare by their folded form (case and accents
ignored), except that a query word written in capitals (SEND) only accepts a text word written in
capitals. Each occurrence of a non-negated term that contributed to a match is reported as a
``Hit`` spanning the whole phrase in the original text; negated branches report nothing.

A ``Document`` is tokenised and indexed once and can be matched against any number of queries;
``match_events`` builds one per event, not one per rule. Choosing which rules could match before
evaluating them (a prefilter for very many rules) is left to a later version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import assert_never

from watcher.match.query import And, Node, Not, Or, Query, Term
from watcher.match.tokens import Word, fold, is_acronym, words
from watcher.model import Event, EventType, Hit, Match


@dataclass(frozen=True)
class Rule:
    """A subscriber's rule: a query, the event types it wants and the sources it applies to."""

    id: str
    query: Query
    events: frozenset[EventType]
    sources: frozenset[str] | None = None  # None: every source

    def applies_to(self, event: Event) -> bool:
        return event.type in self.events and (
            self.sources is None or event.record.source in self.sources
        )


@dataclass(frozen=True, slots=True)
class _WordPattern:
    """What one query word accepts. Prefixes, inflections and synonyms will extend this."""

    norm: str
    caps_only: bool

    def accepts(self, word: Word) -> bool:
        return word.norm == self.norm and (word.caps or not self.caps_only)


@lru_cache(maxsize=65536)
def _compile(term: Term) -> tuple[_WordPattern, ...]:
    return tuple(_WordPattern(fold(w), is_acronym(w)) for w in term.words)


class _Field:
    __slots__ = ("index", "words")

    def __init__(self, text: str) -> None:
        self.words = words(text)
        self.index: dict[str, list[int]] = {}
        for i, word in enumerate(self.words):
            self.index.setdefault(word.norm, []).append(i)


class Document:
    """The fields of one item, tokenised and indexed by folded word, ready for many queries."""

    __slots__ = ("_fields", "_found")

    def __init__(self, fields: Mapping[str, str]) -> None:
        self._fields = {name: _Field(text) for name, text in fields.items()}
        # Rules share terms; each term is looked up once per document.
        self._found: dict[Term, tuple[Hit, ...]] = {}

    def occurrences(self, term: Term) -> tuple[Hit, ...]:
        """Every place ``term`` occurs, in field order then text order."""
        found = self._found.get(term)
        if found is None:
            found = self._found[term] = tuple(self._scan(term))
        return found

    def _scan(self, term: Term) -> list[Hit]:
        patterns = _compile(term)
        if not patterns:
            return []
        first, rest = patterns[0], patterns[1:]
        hits: list[Hit] = []
        for name, field in self._fields.items():
            ws = field.words
            for i in field.index.get(first.norm, ()):
                last = i + len(rest)
                if last >= len(ws) or not first.accepts(ws[i]):
                    continue
                if all(p.accepts(ws[i + k]) for k, p in enumerate(rest, 1)):
                    hits.append(Hit(name, ws[i].start, ws[last].end, term.raw))
        return hits


def match(query: Query, fields: Mapping[str, str]) -> tuple[Hit, ...] | None:
    """The hits of ``query`` in ``fields`` (sorted), or None if the query does not match."""
    return match_document(query, Document(fields))


def match_document(query: Query, document: Document) -> tuple[Hit, ...] | None:
    """Like ``match``, on a document already tokenised."""
    hits = _evaluate(query.ast, document)
    return None if hits is None else tuple(sorted(set(hits)))


def match_events(rules: Sequence[Rule], events: Sequence[Event]) -> list[Match]:
    """Every (rule, event) match, for the events each rule wants, in event order then rule order."""
    matches: list[Match] = []
    for event in events:
        wanted = [rule for rule in rules if rule.applies_to(event)]
        if not wanted:
            continue
        document = Document(event.record.fields())
        for rule in wanted:
            hits = match_document(rule.query, document)
            if hits is not None:
                matches.append(Match(rule.id, event, hits))
    return matches


def _evaluate(node: Node, document: Document) -> list[Hit] | None:
    """None if ``node`` does not match; else the hits of its non-negated terms that matched."""
    if isinstance(node, Term):
        found = document.occurrences(node)
        return list(found) if found else None
    if isinstance(node, Not):
        return None if _evaluate(node.child, document) is not None else []
    if isinstance(node, And):
        hits: list[Hit] = []
        for child in node.children:
            child_hits = _evaluate(child, document)
            if child_hits is None:
                return None
            hits.extend(child_hits)
        return hits
    if isinstance(node, Or):
        matched = False
        hits = []
        # Every alternative that matched is highlighted, not only the first.
        for child in node.children:
            child_hits = _evaluate(child, document)
            if child_hits is not None:
                matched = True
                hits.extend(child_hits)
        return hits if matched else None
    assert_never(node)
