"""Queries as yes/no tests over *atoms*: how ``RuleSet`` decides without building hits.

An atom is one term (a word, a phrase, a wildcard) and the question "does it occur anywhere
in the document?". Most atoms are *exact*: every way they can occur is a key of the document's
squeezed folded text (" waiting lists ", " workforces ", " speech and language therap"), so
finding one of their keys (one Aho-Corasick pass over the text, in ``ruleset``) IS the answer.
The others are *checked*: a word in capitals, a possessive, a wildcard inside a phrase, or a
phrase with too many inflected forms. For those a key (the phrase's words up to the first
that needs checking) only says "maybe", and ``CTerm.occurrences`` decides.

``plan`` turns a query into one of two things:

- ``Disjunction``: a term, a synonym set, or an OR of those. It matches exactly when one of
  its atoms occurs, so its rules are found with no per-query work at all.
- ``Compound``: anything else, as a ``Test`` over the set of atoms that occur. AND, OR and NOT
  are set operations; NEAR and field filters over exact atoms are worked out on the squeezed
  text; what atoms cannot answer (metadata filters, checked atoms in NEAR or a field filter)
  is left to the compiled node's own ``matches``. Every match contains an atom of each of
  the query's *groups* (an AND needs each part; an OR one of its alternatives), and the test
  runs only where the two most selective groups are both met. Two terms and nothing else
  (``teachers pay``) need no test: both occurring is the match.

Both give exactly ``compile_query(ast).matches(doc)`` (a property test); they are only
faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from watcher.match.document import Document
from watcher.match.evaluate import CNode, CTerm, compile_query, compile_term
from watcher.match.literals import COMMON, phrase_keys, word_keys, word_specs
from watcher.match.nodes import And, Field, Meta, Near, Node, Not, Or, Synonym, Term, field_name

MAX_FORMS = 16  # an exact atom with more keys than this is checked instead

# A test answers "does the query match?" given the atoms that occur and the document.
Test = Callable[[Set[int], Document], bool]


@dataclass(frozen=True)
class Atom:
    """One term's occurrence anywhere in a document. ``keys`` are exact keys (their presence
    decides) when ``checked`` is None; otherwise the keys only select the atom, and
    ``checked.occurrences`` decides."""

    keys: tuple[str, ...]
    checked: CTerm | None
    cost: float


def key_cost(key: str) -> float:
    """Roughly how often ``key`` occurs: short and common words often, phrases rarely."""
    words = key.split()
    if not words:
        return 1000.0
    cost: float = min(50.0 if w in COMMON else 8.0 / len(w) for w in words)
    cost /= float(4 ** (len(words) - 1))
    return cost if key.endswith(" ") else cost * 3.0


@lru_cache(maxsize=262144)
def atom_of(term: Term) -> Atom:
    specs = word_specs(term)
    exact = not any(s.caps or s.possessive for s in specs) and all(
        s.prefix is None for s in specs[:-1]
    )
    keys: tuple[str, ...] = ()
    if exact:
        *body, last = specs
        heads = [" " + " ".join(words) for words in product(*(s.forms for s in body))]
        tails = word_keys(last)
        if len(heads) * len(tails) <= MAX_FORMS:
            keys = tuple(head + tail if head != " " else tail for head in heads for tail in tails)
    if keys:
        return Atom(keys, None, sum(key_cost(k) for k in keys))
    # As many words as are exact select the atom ("HMP Durham" is worth checking only where
    # the text says "hmp durham" in any case); CTerm checks the rest.
    keys = phrase_keys(specs)
    return Atom(keys, compile_term(term), sum(key_cost(k) for k in keys))


@dataclass(frozen=True)
class Disjunction:
    """A query that matches exactly when one of ``atoms`` (indexes) occurs."""

    atoms: frozenset[int]


@dataclass(frozen=True)
class Compound:
    """A query decided by ``test``. Every match contains an atom of each of ``groups`` (the
    two most selective such groups of atom indexes, or one, or none), so the test runs only
    on documents where that holds. ``pair`` is set when the query is two terms and nothing
    else: then those two occurring is the match, and no test is needed. ``unless`` is set
    for one term with negated terms: the term occurring and none of those is the match."""

    test: Test
    groups: tuple[frozenset[int], ...]
    pair: bool = False
    # A term and negated terms only (``teachers -pay``): the term, and atoms that veto it.
    unless: tuple[int, frozenset[int]] | None = None


# Term → atom index, shared by every query of a rule set; new terms are numbered as they come.
Index = dict[Term, int]


def plan(node: Node, index: Index) -> Disjunction | Compound:
    """How ``RuleSet`` decides ``node`` (see the module docstring)."""
    alternatives = _alternatives(node)
    if alternatives is not None:
        return Disjunction(_numbers(alternatives, index))
    groups = sorted(set(_groups(node)), key=_order)[:2]
    test = _test(node, index)
    pair = (
        isinstance(node, And)
        and len(node.children) == 2
        and all(isinstance(c, Term) for c in node.children)
        and len(set(node.children)) == 2
    )
    unless = None
    if isinstance(test, _AllOf) and len(test.need) == 1 and test.refuse and not test.rest:
        unless = (next(iter(test.need)), test.refuse)
    return Compound(test, tuple(_numbers(g, index) for _, g in groups), pair, unless)


def _numbers(terms: frozenset[Term], index: Index) -> frozenset[int]:
    return frozenset(index.setdefault(t, len(index)) for t in terms)


def _alternatives(node: Node) -> frozenset[Term] | None:
    """The terms of a query made only of terms, synonym sets and OR; None for anything else."""
    if isinstance(node, Term):
        return frozenset({node})
    if isinstance(node, Synonym):
        return frozenset(node.terms)
    if isinstance(node, Or):
        out: set[Term] = set()
        for child in node.children:
            found = _alternatives(child)
            if found is None:
                return None
            out |= found
        return frozenset(out)
    return None


def _test(node: Node, index: Index) -> Test:
    alternatives = _alternatives(node)
    if alternatives is not None:
        atoms = _numbers(alternatives, index)
        return lambda present, doc: not atoms.isdisjoint(present)
    if isinstance(node, And):
        need: set[Term] = set()
        refuse: set[Term] = set()
        rest: list[Test] = []
        for child in node.children:
            if isinstance(child, Term):
                need.add(child)
            elif isinstance(child, Not) and isinstance(child.child, Term):
                refuse.add(child.child)
            else:
                rest.append(_test(child, index))
        return _AllOf(_numbers(frozenset(need), index), _numbers(frozenset(refuse), index), rest)
    if isinstance(node, Or):
        either = tuple(_test(c, index) for c in node.children)
        return lambda present, doc: any(t(present, doc) for t in either)
    if isinstance(node, Not):
        negated = _test(node.child, index)
        return lambda present, doc: not negated(present, doc)
    compiled: CNode = compile_query(node)
    if isinstance(node, Near):
        return _Near(node, index, compiled)
    if isinstance(node, Field):
        terms = _alternatives(node.child)
        if terms is not None:
            return _InField(field_name(node.name), terms, index, compiled)
    # Metadata filters, and field filters over more than terms: the compiled node decides.
    return lambda present, doc: compiled.matches(doc)


def _exact_keys(terms: Iterable[Term]) -> tuple[str, ...] | None:
    """Every key of ``terms`` if each is an exact atom, else None."""
    keys: list[str] = []
    for term in terms:
        atom = atom_of(term)
        if atom.checked is not None:
            return None
        keys += atom.keys
    return tuple(keys)


def _side(node: Term | Synonym) -> tuple[Term, ...]:
    return (node,) if isinstance(node, Term) else node.terms


class _Near:
    """NEAR: both sides occur; for exact atoms the distance is measured on the squeezed
    text, otherwise the compiled node decides."""

    __slots__ = ("distance", "fallback", "left", "need_left", "need_right", "right")

    def __init__(self, node: Near, index: Index, fallback: CNode) -> None:
        self.need_left = _numbers(frozenset(_side(node.left)), index)
        self.need_right = _numbers(frozenset(_side(node.right)), index)
        self.left = _exact_keys(_side(node.left))
        self.right = _exact_keys(_side(node.right))
        self.distance = node.distance
        self.fallback = fallback

    def __call__(self, present: Set[int], doc: Document) -> bool:
        if self.need_left.isdisjoint(present) or self.need_right.isdisjoint(present):
            return False
        if self.left is None or self.right is None:
            return self.fallback.matches(doc)
        right = [span for key in self.right for span in _spans(doc, key)]
        distance = self.distance
        for key in self.left:
            for field, a1, a2 in _spans(doc, key):
                for other, b1, b2 in right:
                    if other == field and (
                        (a2 < b1 and b1 - a2 - 1 <= distance)
                        or (b2 < a1 and a1 - b2 - 1 <= distance)
                    ):
                        return True
        return False


class _InField:
    """A field filter over terms: one of them occurs in one of the fields. For exact atoms
    that is a substring test on the field's part of the squeezed text."""

    __slots__ = ("fallback", "keys", "name", "need")

    def __init__(self, name: str, terms: frozenset[Term], index: Index, fallback: CNode):
        self.name = name
        self.need = _numbers(terms, index)
        self.keys = _exact_keys(sorted(terms, key=lambda t: t.raw))
        self.fallback = fallback

    def __call__(self, present: Set[int], doc: Document) -> bool:
        if self.need.isdisjoint(present):
            return False
        if self.keys is None:
            return self.fallback.matches(doc)
        for name, part in zip(doc.names, doc.parts(), strict=True):
            if name == self.name:
                return any(key in part for key in self.keys)
        return False


def _spans(doc: Document, key: str) -> list[tuple[int, int, int]]:
    """(field, first word, last word) of every occurrence of ``key`` in ``doc.squeezed()``.
    Word numbers count the ``|`` between fields as a word, which is harmless: they are only
    compared within a field."""
    cache_key = ("spans", key)
    found = doc.cache.get(cache_key)
    if found is None:
        text = doc.squeezed()
        length = key.count(" ") - (1 if key.endswith(" ") else 0)
        spans = []
        # Counted from one occurrence to the next, so the whole text is counted once.
        word = field = last = 0
        at = text.find(key)
        while at >= 0:
            word += text.count(" ", last, at + 1)
            field += text.count("|", last, at)
            spans.append((field, word, word + length - 1))
            last = at + 1
            at = text.find(key, last)
        doc.cache[cache_key] = found = spans
    return found  # type: ignore[return-value]


class _AllOf:
    """AND: every plain term occurs, no negated term does, and every other part holds."""

    __slots__ = ("need", "refuse", "rest")

    def __init__(self, need: frozenset[int], refuse: frozenset[int], rest: list[Test]) -> None:
        self.need, self.refuse, self.rest = need, refuse, tuple(rest)

    def __call__(self, present: Set[int], doc: Document) -> bool:
        if not self.need <= present or not self.refuse.isdisjoint(present):
            return False
        return all(test(present, doc) for test in self.rest)


Group = tuple[float, frozenset[Term]]


def _groups(node: Node) -> list[Group]:
    """Groups of terms, one of each of which every match of ``node`` contains, with a guess
    of how often each group occurs (``Atom.cost``)."""
    if isinstance(node, Term):
        return [(atom_of(node).cost, frozenset({node}))]
    if isinstance(node, Synonym | Or):
        children = node.terms if isinstance(node, Synonym) else node.children
        total, out = 0.0, set[Term]()
        for child in children:
            found = _groups(child)
            if not found:
                return []
            cost, terms = _cheapest(found)
            total += cost
            out |= terms
        return [(total, frozenset(out))]
    if isinstance(node, And):
        return [g for c in node.children for g in _groups(c)]
    if isinstance(node, Near):
        return _groups(node.left) + _groups(node.right)
    if isinstance(node, Field):
        return _groups(node.child)  # a term in a field occurs in the document
    if isinstance(node, Not | Meta):
        return []
    raise AssertionError(node)


def _cheapest(groups: list[Group]) -> Group:
    return min(groups, key=_order)


def _order(group: Group) -> tuple[float, list[str]]:
    return group[0], sorted(t.raw for t in group[1])
