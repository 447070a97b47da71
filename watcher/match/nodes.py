"""The query AST and its canonical printer.

    Term      a word or phrase: ``workforce``, ``"SEND workforce"``, ``therap*``, ``SEND-workforce``
    And, Or   at least two children, never a child of their own type (nesting is flattened)
    Not       ``NOT x`` or ``-x``
    Near      ``a NEAR/n b``: two terms (or synonym sets) at most n words apart, either order
    Synonym   ``~SEND``: its name or any one of a configured set of terms; carries those terms
    Field     ``title:x``: ``x`` must match inside that text field (title, answer, text ...)
    Meta      ``house:lords``: a filter on the record's metadata, matched by ``matcher``

``to_string`` prints the canonical text: explicit AND, parentheses only where needed, terms as
written, ``NOT`` for ``-``, ``NEAR`` for ``NEAR/10``. ``parse(to_string(ast)) == ast`` for every
AST the parser can produce. Parsing is ``query``'s job; matching is ``matcher``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from watcher.kinds import TITLE_ALIASES, facet_names, text_names

NEAR_DEFAULT = 10
QUOTES = {'"': '"', "\u201c": "\u201d"}  # “curly” quotes come with text pasted from documents
# What a query can name: the title (``heading:`` is its older name) and every kind's texts,
# then every kind's facets, ``type:`` and ``source:`` (``watcher.kinds``).
TEXT_FIELDS = text_names()
META_FIELDS = facet_names()


def field_name(name: str) -> str:
    """The text a field filter searches: ``heading:`` searches the title."""
    return TITLE_ALIASES.get(name, name)


@dataclass(frozen=True)
class Term:
    """A word or phrase. ``words`` are the query's words as written, in order (a word ending in
    ``*`` is a prefix wildcard; a possessive ``'s`` stays on its word); ``raw`` is the term as
    written in the query, quotes included."""

    words: tuple[str, ...]
    raw: str

    @property
    def quoted(self) -> bool:
        """Quoted phrases match as written: no plural forms."""
        return self.raw[:1] in QUOTES


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Synonym:
    """``~name``: matches wherever any of ``terms`` matches: the set's name as a term (unless
    an expansion already writes it), then its expansions, in order (``query`` builds them)."""

    name: str
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Near:
    left: Term | Synonym
    right: Term | Synonym
    distance: int = NEAR_DEFAULT  # at most this many words between the two


@dataclass(frozen=True)
class Field:
    """A text-field filter: ``child`` must match inside the field ``name``."""

    name: str
    child: Node


@dataclass(frozen=True)
class Meta:
    """A metadata filter: ``name`` is one of ``META_FIELDS``; ``value`` is the term as written
    after the colon (``60``, ``lords``, ``"Department for Education"``)."""

    name: str
    value: Term


Node: TypeAlias = Term | And | Or | Not | Near | Synonym | Field | Meta


def is_positive(node: Node) -> bool:
    """True if every item this node matches has a non-negated term or filter that matched it."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(is_positive(c) for c in node.children)
    if isinstance(node, Field):
        return is_positive(node.child)
    return True


def to_string(node: Node) -> str:
    """Canonical text of a query (see the module docstring)."""
    if isinstance(node, Term):
        return node.raw
    if isinstance(node, Synonym):
        return "~" + node.name
    if isinstance(node, Meta):
        return f"{node.name}:{node.value.raw}"
    if isinstance(node, Field):
        # A filter's value is one primary: a term, a ~set or a group, never another filter.
        child = to_string(node.child)
        bare = _binding(node.child) == _ATOM and not isinstance(node.child, Field | Meta)
        return f"{node.name}:{child if bare else '(' + child + ')'}"
    if isinstance(node, Near):
        op = "NEAR" if node.distance == NEAR_DEFAULT else f"NEAR/{node.distance}"
        return f"{to_string(node.left)} {op} {to_string(node.right)}"
    if isinstance(node, Not):
        return "NOT " + _wrapped(node.child, _NOT)
    if isinstance(node, And):
        return " AND ".join(_wrapped(c, _AND) for c in node.children)
    return " OR ".join(_wrapped(c, _OR) for c in node.children)


_OR, _AND, _NOT, _NEAR, _ATOM = 1, 2, 3, 4, 5


def _binding(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Near):
        return _NEAR
    return _ATOM


def _wrapped(node: Node, binding: int) -> str:
    text = to_string(node)
    return f"({text})" if _binding(node) < binding else text
