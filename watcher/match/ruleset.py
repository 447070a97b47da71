"""Many rules compiled once, matched against each document with one automaton pass.

Every distinct query is compiled once (rules that share a query share the work) and given
``anchors``: keys (a folded word, or the first words of a phrase) of which every document it
matches contains one. All anchors go into ONE Aho-Corasick automaton (pyahocorasick). For a
document, one pass over its folded text (``Document.squeezed``) yields the anchors present;
only the queries anchored on them, plus the few that have no anchor (only metadata filters),
are evaluated.

The result is exactly what evaluating every rule would give (tested): anchors only decide
which queries are worth evaluating. Which rules apply to which events (types, sources) is
``Rule.applies_to``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import ahocorasick

from watcher.match.document import Document
from watcher.match.evaluate import CNode, compile_query
from watcher.match.nodes import Node
from watcher.match.prefilter import prefilter, requirements
from watcher.match.query import Query
from watcher.model import Event, EventType, Hit, Match

log = logging.getLogger(__name__)


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


class RuleSet(Sequence[Rule]):
    """Rules compiled for matching many documents. A ``Sequence`` of its rules, in order."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        by_ast: dict[object, int] = {}
        self._programs: list[CNode] = []
        self._rules_of: list[list[int]] = []  # program → indexes of its rules
        self._always: list[int] = []  # programs that cannot be prefiltered
        self._checks: list[tuple[frozenset[int], ...]] = []  # program → groups of key indexes
        triggered: dict[str, list[int]] = {}
        key_index: dict[str, int] = {}
        asts: list[Node] = []
        for index, rule in enumerate(self._rules):
            ast = rule.query.ast
            program = by_ast.get(ast)
            if program is None:
                program = by_ast[ast] = len(self._programs)
                self._programs.append(compile_query(ast))
                self._rules_of.append([])
                asts.append(ast)
            self._rules_of[program].append(index)
        fanout: Counter[str] = Counter()
        for ast in asts:
            fanout.update({key for _, keys in requirements(ast) or () for key in keys})
        for program, ast in enumerate(asts):
            found = prefilter(ast, fanout)
            if found is None:
                self._always.append(program)
                self._checks.append(())
                continue
            for key in found.trigger:
                triggered.setdefault(key, []).append(program)
            self._checks.append(
                tuple(
                    frozenset(key_index.setdefault(k, len(key_index)) for k in group)
                    for group in found.checks
                )
            )
        self._types = frozenset(t for rule in self._rules for t in rule.events)
        self._every_source = any(rule.sources is None for rule in self._rules)
        self._sources = frozenset(s for rule in self._rules for s in rule.sources or ())
        self._automaton: ahocorasick.Automaton | None = None
        for key in triggered:
            key_index.setdefault(key, len(key_index))
        # Key index → the queries it triggers that have no checks, and those that have.
        self._plain: list[tuple[int, ...]] = [()] * len(key_index)
        self._checked: list[tuple[int, ...]] = [()] * len(key_index)
        for key, programs in triggered.items():
            index = key_index[key]
            self._plain[index] = tuple(p for p in programs if not self._checks[p])
            self._checked[index] = tuple(p for p in programs if self._checks[p])
        if key_index:
            automaton = ahocorasick.Automaton()
            for key, index in key_index.items():
                automaton.add_word(key, index)
            automaton.make_automaton()
            self._automaton = automaton
        log.debug(
            "event=ruleset_built rules=%d queries=%d keys=%d unfiltered=%d",
            len(self._rules),
            len(self._programs),
            len(key_index),
            len(self._always),
        )

    @overload
    def __getitem__(self, index: int) -> Rule: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Rule]: ...

    def __getitem__(self, index: int | slice) -> Rule | Sequence[Rule]:
        return self._rules[index]

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def candidates(self, document: Document) -> list[int]:
        """Indexes of the queries worth evaluating on ``document``, in order."""
        if self._automaton is None:
            return list(self._always)
        found = {key for _, key in self._automaton.iter(document.squeezed())}
        programs: set[int] = set(self._always)
        checked: set[int] = set()
        plain, triggers = self._plain, self._checked
        for key in found:
            programs.update(plain[key])
            checked.update(triggers[key])
        checks = self._checks
        for program in checked:
            for group in checks[program]:
                if found.isdisjoint(group):
                    break
            else:
                programs.add(program)
        return sorted(programs)

    def match_document(self, document: Document) -> list[tuple[Rule, tuple[Hit, ...]]]:
        """Every rule whose query matches ``document``, in rule order, with its hits."""
        out: list[tuple[int, tuple[Hit, ...]]] = []
        programs, rules_of = self._programs, self._rules_of
        for program in self.candidates(document):
            found = programs[program].hits(document)
            if found is not None:
                out += [(index, found) for index in rules_of[program]]
        out.sort()  # rule indexes are unique, so hits are never compared
        rules = self._rules
        return [(rules[index], hits) for index, hits in out]

    def match_events(self, events: Sequence[Event]) -> list[Match]:
        """Every (rule, event) match for the events each rule wants, in event then rule order."""
        matches: list[Match] = []
        for event in events:
            if event.type not in self._types or not (
                self._every_source or event.record.source in self._sources
            ):
                continue
            document = Document.from_record(event.record)
            for rule, hits in self.match_document(document):
                if rule.applies_to(event):
                    matches.append(Match(rule.id, event, hits))
        return matches
