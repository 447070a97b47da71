"""What a document must contain for a query to have a chance: the prefilter's requirements.

``requirements(node)`` gives groups of keys (strings of ``Document.squeezed`` text: a folded
word " workforce ", a wildcard's start " therap", a phrase's first words " send workforce ");
a document the query matches contains at least one key of EVERY group. A term needs its most
selective word, or its first words together; AND needs what each of its (non-negated) children
needs; OR and synonym sets need one of their alternatives, so they make a single group.
NOT and metadata filters require nothing. None means no group at all: the query has to be
evaluated on every document.

``Prefilter`` turns that into what ``RuleSet`` uses: a ``trigger`` group, the most selective
(its keys go into the automaton and select the query), and a few ``checks`` (other selective
groups, tested against the keys found before evaluating). Selectivity is guessed from the key:
phrases and long words are rare, short and very common words are not (``key_cost``); and a
key that many queries share is a worse trigger, as finding it means checking them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watcher.match.literals import COMMON, phrase_keys, word_keys, word_specs
from watcher.match.nodes import And, Field, Near, Node, Not, Or, Synonym, Term

MAX_CHECKS = 3
UNSELECTIVE = 20.0  # a group this costly is not worth checking (a very common word)

Group = tuple[float, frozenset[str]]


@dataclass(frozen=True)
class Prefilter:
    trigger: frozenset[str]
    checks: tuple[frozenset[str], ...]


def prefilter(node: Node, fanout: Mapping[str, int] | None = None) -> Prefilter | None:
    """The trigger and checks for ``node`` (see the module docstring); None if it has none.

    ``fanout`` (key → how many queries of a rule set require it) steers the trigger away from
    keys that many queries share: a found key costs work for every query it triggers."""
    groups = requirements(node)
    if not groups:
        return None
    shared = fanout or {}

    def work(group: Group) -> tuple[float, list[str]]:
        cost, keys = group
        spread = sum(shared.get(k, 1) for k in keys) / len(keys)
        return cost * (1.0 + math.log(max(spread, 1.0))), sorted(keys)

    ordered = sorted(set(groups), key=work)
    trigger = ordered[0][1]
    selective = [keys for cost, keys in ordered[1:] if cost < UNSELECTIVE and keys != trigger]
    return Prefilter(trigger, tuple(selective[:MAX_CHECKS]))


def key_cost(key: str) -> float:
    """Roughly how often ``key`` occurs: short and common words often, phrases rarely."""
    words = key.split()
    if not words:
        return 1000.0
    cost: float = min(50.0 if w in COMMON else 8.0 / len(w) for w in words)
    cost /= float(4 ** (len(words) - 1))
    return cost if key.endswith(" ") else cost * 3.0


def _group(keys: Sequence[str]) -> Group:
    return sum(key_cost(k) for k in keys), frozenset(keys)


def _term(term: Term) -> list[Group]:
    # Every word of a phrase is required, but checking more than the best one costs more in
    # automaton output (every key found in every document) than it saves in evaluation.
    specs = word_specs(term)
    groups = [_group(word_keys(spec)) for spec in specs]
    if len(specs) > 1:
        groups.append(_group(phrase_keys(specs)))
    return [min(groups, key=lambda g: g[0])]


def requirements(node: Node) -> list[Group] | None:
    """Groups of keys, one key of each of which every match of ``node`` contains."""
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Synonym):
        return _either([_term(t) for t in node.terms])
    if isinstance(node, Or):
        return _either([requirements(c) for c in node.children])
    if isinstance(node, Near):
        return _term_like(node.left) + _term_like(node.right)
    if isinstance(node, And):
        out: list[Group] = []
        for child in node.children:
            if not isinstance(child, Not):
                out += requirements(child) or []
        return out or None
    if isinstance(node, Field):
        return requirements(node.child)
    return None  # NOT, metadata


def _term_like(node: Term | Synonym) -> list[Group]:
    return requirements(node) or []


def _either(options: Sequence[list[Group] | None]) -> list[Group] | None:
    # Only one group survives a disjunction: the union of each alternative's best group.
    keys: set[str] = set()
    cost = 0.0
    for groups in options:
        if not groups:
            return None
        best = min(groups, key=lambda g: g[0])
        keys |= best[1]
        cost += best[0]
    return [(cost, frozenset(keys))]
