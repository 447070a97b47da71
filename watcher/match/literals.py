"""What each query word accepts, and the literal words a query cannot match without.

``word_specs(term)`` turns a term's words as written into ``WordSpec`` values: the folded forms
a word accepts (itself; for the last word of a bare term also its plurals), or a prefix for a
wildcard, and whether it must be in capitals or carry a possessive. The matcher compiles terms
from these, so this module is the one place that decides what a query word means.

``literals(query)`` gives a set of folded single words such that every document the query
matches contains a word equal to one of them (or, for a prefix literal, starting with it) in
some text field, or None when no such set exists (a query of only metadata filters). Callers
use it to pick candidate documents cheaply (a full-text index, a keyword automaton) and then
confirm with the matcher. Words compare with ``tokens.Word.norm`` (possessive ``'s`` left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from watcher.match.nodes import And, Field, Meta, Near, Node, Not, Or, Synonym, Term
from watcher.match.query import Query
from watcher.match.tokens import fold, inflections, is_acronym, split_possessive

# Words that occur in nearly every answer make poor anchors when a better one is on offer.
COMMON = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in"),
        *("is", "it", "of", "on", "or", "that", "the", "this", "to", "was", "we", "will"),
        *("with", "what", "department", "government", "minister", "secretary", "state"),
    }
)


@dataclass(frozen=True, order=True)
class Literal:
    """A folded word; ``prefix`` literals match any word that starts with ``text``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class WordSpec:
    """What one query word accepts: one of ``forms`` exactly, or any word starting with
    ``prefix``; in capitals only if ``caps``; only with a possessive 's if ``possessive``."""

    written: str
    forms: tuple[str, ...]
    prefix: str | None
    caps: bool
    possessive: bool

    @property
    def literals(self) -> frozenset[Literal]:
        if self.prefix is not None:
            return frozenset({Literal(self.prefix, prefix=True)})
        return frozenset(Literal(f) for f in self.forms)


@lru_cache(maxsize=65536)
def word_specs(term: Term) -> tuple[WordSpec, ...]:
    """The ``WordSpec`` of each word of ``term``, in order."""
    out: list[WordSpec] = []
    last = len(term.words) - 1
    for k, written in enumerate(term.words):
        star = written.endswith("*")
        base, possessive = split_possessive(written[:-1] if star else written)
        caps = is_acronym(base)
        norm = fold(base)
        if star:
            out.append(WordSpec(written, (), norm, caps, possessive))
            continue
        inflected = k == last and not (term.quoted or caps or possessive or norm.isdigit())
        forms = inflections(norm) if inflected else (norm,)
        out.append(WordSpec(written, forms, None, caps, possessive))
    return tuple(out)


def word_keys(spec: WordSpec) -> tuple[str, ...]:
    """Strings that find the word in a folded text whose words are space-separated and which
    starts and ends with a space: " form " for each form, or " prefix" for a wildcard."""
    if spec.prefix is not None:
        return (" " + spec.prefix,)
    return tuple(" " + form + " " for form in spec.forms)


def phrase_keys(specs: Sequence[WordSpec], limit: int = 16) -> tuple[str, ...]:
    """Strings that find the first words of a phrase in a folded text with exactly ONE space
    between words: as many words as are exact (" send workforce "), or up to and including a
    wildcard (" language therap"); at most ``limit`` strings."""
    keys = [" "]
    for spec in specs:
        if spec.prefix is not None:
            return tuple(k + spec.prefix for k in keys)
        longer = [k + form + " " for k in keys for form in spec.forms]
        if len(longer) > limit:
            break
        keys = longer
    return tuple(keys)


def literals(query: Query | Node) -> frozenset[Literal] | None:
    """Literals one of which every match of ``query`` contains; None if there are none.

    For a phrase the least common-looking word is chosen; for AND the child with the most
    selective set; OR and synonym sets need a literal from each alternative."""
    found = _literals(query.ast if isinstance(query, Query) else query)
    return None if found is None else found[1]


def term_literals(term: Term) -> frozenset[Literal]:
    """The literals of the best single word of ``term``."""
    return min((s.literals for s in word_specs(term)), key=cost)


def cost(found: frozenset[Literal]) -> float:
    """Roughly how many documents a literal set lets through: lower is more selective."""
    total = 0.0
    for lit in found:
        weight = 50.0 if lit.text in COMMON else 8.0 / max(len(lit.text), 1)
        total += weight * (3 if lit.prefix else 1)
    return total


def _literals(node: Node) -> tuple[float, frozenset[Literal]] | None:
    if isinstance(node, Term):
        best = term_literals(node)
        return cost(best), best
    if isinstance(node, Synonym):
        return _union([_literals(t) for t in node.terms])
    if isinstance(node, Or):
        return _union([_literals(c) for c in node.children])
    if isinstance(node, Near):
        return _best([_literals(node.left), _literals(node.right)])
    if isinstance(node, And):
        return _best([_literals(c) for c in node.children if not isinstance(c, Not)])
    if isinstance(node, Field):
        return _literals(node.child)
    if isinstance(node, Not | Meta):
        return None
    raise AssertionError(node)


def _union(
    options: list[tuple[float, frozenset[Literal]] | None],
) -> tuple[float, frozenset[Literal]] | None:
    out: set[Literal] = set()
    for option in options:
        if option is None:
            return None
        out |= option[1]
    found = frozenset(out)
    return cost(found), found


def _best(
    options: list[tuple[float, frozenset[Literal]] | None],
) -> tuple[float, frozenset[Literal]] | None:
    usable = [o for o in options if o is not None]
    return min(usable, key=lambda o: o[0]) if usable else None
