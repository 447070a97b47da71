"""Many rules compiled once, decided for each document with one automaton pass.

Every distinct query is compiled once (rules that share a query share the work) and planned
as a yes/no test over *atoms* (``atoms``: does this term occur in the document?). The keys of
every atom of every rule go into ONE Aho-Corasick automaton (pyahocorasick). For a document:

1. one pass over its squeezed folded text (``Document.squeezed``) finds the keys present,
   and so the atoms that occur (checked atoms are confirmed by ``CTerm.occurrences``);
2. rules whose query is a term, a synonym set or an OR of those are matched straight from
   the atoms, as are those of two terms (``teachers pay``), by a lookup of atom pairs;
3. the other queries are tested only where their two most selective groups of atoms are met.

That decides which rules match (``matching``) without building a single hit. Hits, with
their offsets, come from the compiled query (``evaluate``), per query that matched
(``match_document``, ``hits``). The decision is exactly what evaluating every rule would give
(a property test, and the benchmark against a naive baseline). Which rules apply to which
events (types, sources) is ``Rule.applies_to``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import ahocorasick

from watcher.kinds import kind_of
from watcher.match.atoms import Compound, Disjunction, Index, Test, atom_of, plan
from watcher.match.document import Document
from watcher.match.evaluate import CNode, compile_query
from watcher.match.nodes import Node
from watcher.match.query import Query
from watcher.model import Event, EventType, Hit, Match

log = logging.getLogger(__name__)

MAX_PAIRS = 64  # a query is indexed by at most this many pairs of atoms


@dataclass(frozen=True)
class Rule:
    """A subscriber's rule: a query, the event types it wants and the sources it applies to."""

    id: str
    query: Query
    events: frozenset[EventType] | None = None  # None: each kind's default events
    sources: frozenset[str] | None = None  # None: every source

    def wants(self, event: Event) -> bool:
        """The rule wants this type of event (of this kind of record)."""
        if self.events is None:
            return event.type in kind_of(event.record.kind).default_events
        return event.type in self.events

    def applies_to(self, event: Event) -> bool:
        return self.wants(event) and (self.sources is None or event.record.source in self.sources)


class RuleSet(Sequence[Rule]):
    """Rules compiled for matching many documents. A ``Sequence`` of its rules, in order."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        by_ast: dict[Node, int] = {}
        self._programs: list[CNode] = []  # query → compiled node, for its hits
        self._program_of: list[int] = []  # rule → query
        rules_of: list[list[int]] = []  # query → its rules
        index: Index = {}
        plans: list[Disjunction | Compound] = []
        # Rule numbers are made in one go so that they lie together in memory: sorting a
        # thousand matches per document reads them all, and scattered ints are cache misses.
        numbers = list(range(len(self._rules)))
        for number, rule in zip(numbers, self._rules, strict=True):
            ast = rule.query.ast
            program = by_ast.get(ast)
            if program is None:
                program = by_ast[ast] = len(self._programs)
                self._programs.append(compile_query(ast))
                plans.append(plan(ast, index))
                rules_of.append([])
            rules_of[program].append(number)
            self._program_of.append(program)

        atoms = [atom_of(term) for term in index]  # in index order
        # Atom → the rules it decides alone (a term; one of the atoms of an OR); atom → the
        # queries it selects, alone or with a second atom (atom → second atom → queries).
        self._direct: list[list[int]] = [[] for _ in atoms]
        self._direct_any: list[list[int]] = [[] for _ in atoms]
        self._single: list[list[int]] = [[] for _ in atoms]
        self._paired: list[dict[int, list[int]]] = [{} for _ in atoms]
        self._pair_rules: list[dict[int, list[int]]] = [{} for _ in atoms]
        # Atom → rules of one term with negated terms: all of them, and which atom vetoes which.
        self._unless: list[tuple[list[int], dict[int, list[int]]] | None] = [None for _ in atoms]
        self._tests: dict[int, Test] = {}  # compound queries only
        self._always: list[int] = []
        for program, how in enumerate(plans):
            if isinstance(how, Disjunction):
                for atom in how.atoms:
                    if len(how.atoms) == 1:
                        self._direct[atom] += rules_of[program]
                    else:
                        self._direct_any[atom] += rules_of[program]
                continue
            self._tests[program] = how.test
            if how.unless is not None:
                term, vetoes = how.unless
                every, vetoed = self._unless[term] or ([], {})
                every += rules_of[program]
                for veto in vetoes:
                    vetoed.setdefault(veto, []).extend(rules_of[program])
                self._unless[term] = every, vetoed
            elif not how.groups:
                self._always.append(program)
            elif len(how.groups) == 1 or len(how.groups[0]) * len(how.groups[1]) > MAX_PAIRS:
                for atom in how.groups[0]:
                    self._single[atom].append(program)
            else:
                first, second = how.groups
                for a in first:
                    for b in second:
                        if how.pair:
                            self._pair_rules[a].setdefault(b, []).extend(rules_of[program])
                        else:
                            self._paired[a].setdefault(b, []).append(program)
        self._rules_of = [tuple(r) for r in rules_of]

        # Key → the exact atoms it proves, and the checked atoms it makes worth checking.
        key_index: dict[str, int] = {}
        exact: list[list[int]] = []
        checked: list[list[int]] = []
        for atom_number, term_atom in enumerate(atoms):
            for key in term_atom.keys:
                k = key_index.setdefault(key, len(key_index))
                if k == len(exact):
                    exact.append([])
                    checked.append([])
                (exact if term_atom.checked is None else checked)[k].append(atom_number)
        self._exact = [tuple(a) for a in exact]
        self._checked = [tuple(a) for a in checked]
        self._checks = [atom.checked for atom in atoms]
        self._automaton: ahocorasick.Automaton | None = None
        if key_index:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for key, k in key_index.items():
                automaton.add_word(key, k)
            automaton.make_automaton()
            self._automaton = automaton
        self._defaults = any(rule.events is None for rule in self._rules)
        self._types = frozenset(t for rule in self._rules for t in rule.events or ())
        self._every_source = any(rule.sources is None for rule in self._rules)
        self._sources = frozenset(s for rule in self._rules for s in rule.sources or ())
        log.debug(
            "event=ruleset_built rules=%d queries=%d atoms=%d keys=%d unfiltered=%d",
            len(self._rules),
            len(self._programs),
            len(atoms),
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

    def present(self, document: Document) -> set[int]:
        """The atoms that occur in ``document`` (as indexes)."""
        if self._automaton is None:
            return set()
        found = {k for _, k in self._automaton.iter(document.squeezed())}
        present: set[int] = set()
        exact, checked, checks = self._exact, self._checked, self._checks
        for k in found:
            present.update(exact[k])
            for atom in checked[k]:
                check = checks[atom]
                if atom not in present and check is not None and check.occurs(document):
                    present.add(atom)
        return present

    def matching(self, document: Document) -> list[int]:
        """The numbers (indexes) of the rules whose query matches ``document``, each once, in
        no particular order, decided without building any hit. At 100,000 rules ordering (or
        even hashing) the thousand matches costs more than finding them, so only callers that
        need rule order (``match_document``) sort."""
        present = self.present(document)
        out: list[int] = []
        either: set[int] = set()  # rules of an OR: one per alternative that occurs
        programs = set(self._always)
        direct, single, paired, pair_rules = (
            self._direct,
            self._single,
            self._paired,
            self._pair_rules,
        )
        direct_any, unless = self._direct_any, self._unless
        for atom in present:
            out += direct[atom]
            if direct_any[atom]:
                either.update(direct_any[atom])
            entry = unless[atom]
            if entry is not None:
                every, vetoed = entry
                vetoes = vetoed.keys() & present
                if vetoes:
                    refused = {rule for veto in vetoes for rule in vetoed[veto]}
                    out += [rule for rule in every if rule not in refused]
                else:
                    out += every
            programs.update(single[atom])
            if paired[atom]:
                second = paired[atom]
                for other in second.keys() & present:
                    programs.update(second[other])
            if pair_rules[atom]:
                second = pair_rules[atom]
                for other in second.keys() & present:
                    out += second[other]
        tests, rules_of = self._tests, self._rules_of
        for program in programs:
            if tests[program](present, document):
                out += rules_of[program]
        out += either
        return out

    def match_document(self, document: Document) -> list[tuple[Rule, tuple[Hit, ...]]]:
        """Every rule whose query matches ``document``, in rule order, with its hits."""
        rules, programs, program_of = self._rules, self._programs, self._program_of
        out: list[tuple[Rule, tuple[Hit, ...]]] = []
        found: dict[int, tuple[Hit, ...] | None] = {}  # rules that share a query share its hits
        for number in sorted(self.matching(document)):
            program = program_of[number]
            if program not in found:
                found[program] = programs[program].hits(document)
            hits = found[program]
            assert hits is not None, "deciding and evaluating a query disagree"
            out.append((rules[number], hits))
        return out

    def match_events(self, events: Sequence[Event]) -> list[Match]:
        """Every (rule, event) match for the events each rule wants, in event then rule order."""
        matches: list[Match] = []
        for event in events:
            if not (self._defaults or event.type in self._types) or not (
                self._every_source or event.record.source in self._sources
            ):
                continue
            document = Document.from_record(event.record)
            for rule, hits in self.match_document(document):
                if rule.applies_to(event):
                    matches.append(Match(rule.id, event, hits))
        return matches
