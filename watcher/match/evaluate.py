"""Queries compiled for evaluation, and their evaluation against a ``Document``.

A term compiles to ``keys``: substrings of a field's folded ``scan`` text that find its first
word (" workforce ", " workforces ", " therap"); capitals (acronyms), possessives and the
following words of a phrase are then checked word by word. Field filters (``heading:x``) are
pushed down into the terms they restrict, so a compiled tree has only terms, NEAR, AND, OR,
NOT and metadata filters.

A node returns None when it does not match, else the hits of its non-negated parts: every
occurrence of a matching term, both sides of every qualifying NEAR pair, every alternative of
an OR that matched, a zero-width hit named after a metadata filter. Hits name the term as the
rule wrote it; a synonym's hits are named ``~NAME`` with ``via`` the expansion that matched,
and a NEAR's hits are named after the whole ``a NEAR b`` expression.

"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter

from watcher.kinds import kind_of
from watcher.match.document import Document, FieldText, Metadata
from watcher.match.literals import WordSpec, word_keys, word_specs
from watcher.match.nodes import (
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Synonym,
    Term,
    field_name,
    to_string,
)
from watcher.match.tokens import fold, words
from watcher.model import Hit

Occurrence = tuple[int, int, int]  # field index, first word ref, last word ref


class CTerm:
    """A term compiled: the keys of its first word, and the checks left once a key is found
    (capitals, possessive, the following words of a phrase)."""

    __slots__ = ("first", "keys", "rest")

    def __init__(self, term: Term) -> None:
        specs = word_specs(term)
        self.keys = word_keys(specs[0])
        # A key already checks the first word's folded form; capitals and 's are left.
        self.first = specs[0] if specs[0].caps or specs[0].possessive else None
        self.rest = specs[1:]

    def occurrences(self, doc: Document) -> list[Occurrence]:
        cached = doc.cache.get(self)
        if cached is None:
            doc.cache[self] = cached = list(self._find(doc))
        return cached  # type: ignore[return-value]

    def occurs(self, doc: Document) -> bool:
        """Whether the term occurs at all: ``occurrences`` up to the first one found."""
        cached = doc.cache.get(self)
        if cached is not None:
            return bool(cached)
        if next(self._find(doc), None) is not None:
            return True
        doc.cache[self] = []
        return False

    def each(self, doc: Document) -> Iterable[Occurrence]:
        """``occurrences``, found one at a time unless already known: a caller that stops
        early pays only for what it looked at."""
        cached = doc.cache.get(self)
        return cached if cached is not None else self._find(doc)  # type: ignore[return-value]

    def _find(self, doc: Document) -> Iterator[Occurrence]:
        first, rest = self.first, self.rest
        for key in self.keys:
            for position in doc.positions(key):
                f, ref = doc.locate(position)
                field = doc.fields[f]
                if first is not None and not _cased(first, field, ref):
                    continue
                last = _rest(rest, field, ref)
                if last is not None:
                    yield f, ref, last


def _rest(rest: Sequence[WordSpec], field: FieldText, ref: int) -> int | None:
    """The last word of the phrase whose first word is ``ref``, if its other words follow."""
    last: int | None = ref
    for spec in rest:
        last = field.next(ref)
        if last is None or not _accepts(spec, field, last):
            return None
        ref = last
    return ref


def _accepts(spec: WordSpec, field: FieldText, ref: int) -> bool:
    norm = field.norm(ref)
    if spec.prefix is not None:
        if not norm.startswith(spec.prefix):
            return False
    elif norm not in spec.forms:
        return False
    return _cased(spec, field, ref)


def _cased(spec: WordSpec, field: FieldText, ref: int) -> bool:
    if spec.caps and not field.in_capitals(ref, None if spec.prefix is None else len(spec.prefix)):
        return False
    return not spec.possessive or field.possessive(ref)


@lru_cache(maxsize=262144)
def compile_term(term: Term) -> CTerm:
    return CTerm(term)


# --- compiled nodes ------------------------------------------------------------------------


class CNode:
    __slots__ = ()

    def eval(self, doc: Document) -> list[Hit] | None:
        raise NotImplementedError

    def matches(self, doc: Document) -> bool:
        """Whether the node matches, as ``eval(doc) is not None`` but without building hits:
        it stops at the first occurrence that decides."""
        raise NotImplementedError

    def hits(self, doc: Document) -> tuple[Hit, ...] | None:
        """``eval``'s hits, distinct and sorted; None if the node does not match."""
        found = self.eval(doc)
        return None if found is None else sorted_hits(found)


_HIT_ORDER = attrgetter("field", "start", "end", "term", "via")


def sorted_hits(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    """Distinct hits in ``Hit`` order (field, start, end, term, via), sorted without calling
    the dataclass's Python-level comparison and hashing."""
    by_key = {_HIT_ORDER(h): h for h in hits}
    return tuple(by_key[k] for k in sorted(by_key))


@dataclass(frozen=True, slots=True)
class _Option:
    """One way a term-like operand matches: a compiled term and the synonym expansion, if any."""

    cterm: CTerm
    via: str


class CText(CNode):
    """A term or a synonym set (any of its expansions), optionally restricted to some fields.

    Shared by every query that uses the same term (``_text``), so its hits are worked out once
    per document however many rules use it."""

    __slots__ = ("fields", "label", "options")

    def __init__(self, options: Sequence[_Option], label: str, fields: frozenset[str] | None):
        self.options = tuple(options)
        self.label = label
        self.fields = fields

    def found(self, doc: Document) -> list[tuple[Occurrence, str]]:
        out = [(occ, o.via) for o in self.options for occ in o.cterm.occurrences(doc)]
        if self.fields is not None:
            names, allowed = doc.names, self.fields
            out = [x for x in out if names[x[0][0]] in allowed]
        return out

    def matches(self, doc: Document) -> bool:
        allowed = self.fields
        if allowed is None:
            return any(o.cterm.occurs(doc) for o in self.options)
        names = doc.names
        return any(names[occ[0]] in allowed for o in self.options for occ in o.cterm.each(doc))

    def eval(self, doc: Document) -> list[Hit] | None:
        cache = doc.cache
        if self in cache:
            return cache[self]  # type: ignore[return-value]
        found = self.found(doc)
        hits = [_hit(doc, occ, self.label, via) for occ, via in found] if found else None
        cache[self] = hits
        return hits

    def hits(self, doc: Document) -> tuple[Hit, ...] | None:
        # Many rules are one term: sort its hits once per document, not once per rule.
        key = (self, "sorted")
        cache = doc.cache
        if key not in cache:
            found = self.eval(doc)
            cache[key] = None if found is None else sorted_hits(found)
        return cache[key]  # type: ignore[return-value]


class CNear(CNode):
    __slots__ = ("distance", "label", "left", "right")

    def __init__(self, left: CText, right: CText, distance: int, label: str) -> None:
        self.left, self.right, self.distance, self.label = left, right, distance, label

    def pairs(self, doc: Document) -> Iterator[tuple[tuple[Occurrence, str], ...]]:
        """Every (left, right) pair of occurrences close enough, with their expansions."""
        left = self.left.found(doc)
        if not left:
            return
        right = self.right.found(doc)
        fields = doc.fields
        for a in left:
            for b in right:
                (fa, a1, a2), (fb, b1, b2) = a[0], b[0]
                if fa != fb:
                    continue
                if a2 < b1:
                    gap = fields[fa].gap(a2, b1)
                elif b2 < a1:
                    gap = fields[fa].gap(b2, a1)
                else:
                    continue  # overlapping occurrences are not two things near each other
                if gap <= self.distance:
                    yield a, b

    def matches(self, doc: Document) -> bool:
        return next(self.pairs(doc), None) is not None

    def eval(self, doc: Document) -> list[Hit] | None:
        hits: set[Hit] = set()
        for (a, via_a), (b, via_b) in self.pairs(doc):
            hits.add(_hit(doc, a, self.label, via_a))
            hits.add(_hit(doc, b, self.label, via_b))
        return list(hits) if hits else None


class CAnd(CNode):
    __slots__ = ("children",)

    def __init__(self, children: Sequence[CNode]) -> None:
        # Cheap, selective children first: a failing AND stops early.
        self.children = tuple(children)

    def matches(self, doc: Document) -> bool:
        return all(child.matches(doc) for child in self.children)

    def eval(self, doc: Document) -> list[Hit] | None:
        hits: list[Hit] = []
        for child in self.children:
            found = child.eval(doc)
            if found is None:
                return None
            hits.extend(found)
        return hits


class COr(CNode):
    __slots__ = ("children",)

    def __init__(self, children: Sequence[CNode]) -> None:
        self.children = tuple(children)

    def matches(self, doc: Document) -> bool:
        return any(child.matches(doc) for child in self.children)

    def eval(self, doc: Document) -> list[Hit] | None:
        matched = False
        hits: list[Hit] = []
        # Every alternative that matched is highlighted, not only the first.
        for child in self.children:
            found = child.eval(doc)
            if found is not None:
                matched = True
                hits.extend(found)
        return hits if matched else None


class CNot(CNode):
    __slots__ = ("child",)

    def __init__(self, child: CNode) -> None:
        self.child = child

    def matches(self, doc: Document) -> bool:
        return not self.child.matches(doc)

    def eval(self, doc: Document) -> list[Hit] | None:
        return None if self.child.matches(doc) else []


class CMeta(CNode):
    __slots__ = ("label", "name", "number", "value")

    def __init__(self, meta: Meta) -> None:
        self.name = meta.name
        self.label = to_string(meta)
        self.value = tuple(fold(w) for w in meta.value.words)
        joined = "".join(meta.value.words)
        self.number = int(joined) if len(meta.value.words) == 1 and joined.isdigit() else None

    def matches(self, doc: Document) -> bool:
        return self._matches(doc.meta)

    def eval(self, doc: Document) -> list[Hit] | None:
        return [Hit(self.name, 0, 0, self.label)] if self._matches(doc.meta) else None

    def _matches(self, meta: Metadata) -> bool:
        name = self.name
        if name == "type":
            return meta.kind is not None and self.value[0] == _noun(meta.kind)
        if name == "source":
            return meta.source is not None and fold(meta.source) == self.value[0]
        labels = meta.facets.get(name)
        if not labels:
            return False  # a facet the record's kind lacks never matches
        if self.number is not None:
            return str(self.number) in labels  # an id, written as digits
        whole = name in _WHOLE
        return any(_contains(label, self.value, whole) for label in labels)


# Facets whose value is matched as a whole, not as words inside it: ``uin:8602`` is not
# UIN 8602A, ``house:commons`` names a House.
_WHOLE = frozenset({"uin", "house"})


@lru_cache(maxsize=256)
def _noun(kind: str) -> str:
    return fold(kind_of(kind).noun)


def _contains(text: str | None, value: tuple[str, ...], whole: bool = False) -> bool:
    """``value`` (folded words) appears as consecutive words of ``text`` (all of it if whole)."""
    if not text:
        return False
    norms = _norms(text)
    if whole:
        return norms == value
    n = len(value)
    return any(tuple(norms[i : i + n]) == value for i in range(len(norms) - n + 1))


@lru_cache(maxsize=4096)
def _norms(text: str) -> tuple[str, ...]:
    # Names of departments and members recur in every item: fold each once.
    return tuple(w.norm for w in words(text))


def _hit(doc: Document, occ: Occurrence, label: str, via: str) -> Hit:
    f, i, j = occ
    field = doc.fields[f]
    return Hit(doc.names[f], field.start(i), field.end(j), label, via)


# --- compiling -----------------------------------------------------------------------------


def compile_query(node: Node, fields: frozenset[str] | None = None) -> CNode:
    """The compiled form of ``node``; ``fields`` restricts its terms (from ``heading:``...)."""
    if isinstance(node, Term | Synonym):
        return _text(node, fields)
    if isinstance(node, Near):
        return CNear(
            _text(node.left, fields), _text(node.right, fields), node.distance, to_string(node)
        )
    if isinstance(node, And):
        return CAnd([compile_query(c, fields) for c in node.children])
    if isinstance(node, Or):
        return COr([compile_query(c, fields) for c in node.children])
    if isinstance(node, Not):
        return CNot(compile_query(node.child, fields))
    if isinstance(node, Field):
        name = field_name(node.name)
        inner = frozenset({name}) if fields is None else fields & {name}
        return compile_query(node.child, inner)
    return CMeta(node)


@lru_cache(maxsize=262144)
def _text(node: Term | Synonym, fields: frozenset[str] | None) -> CText:
    if isinstance(node, Term):
        return CText([_Option(compile_term(node), "")], node.raw, fields)
    return CText([_Option(compile_term(t), t.raw) for t in node.terms], "~" + node.name, fields)
