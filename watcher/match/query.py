"""The query language: lexer and recursive-descent parser. The AST and printer are in ``nodes``.

Grammar::

    query    := or END
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*        adjacent terms are ANDed implicitly
    unary    := ("NOT" | "-") unary | near    "-" only directly before a term: SEND -statistics
    near     := primary [("NEAR" | "NEAR/n") primary]      both sides a term, phrase or ~set
    primary  := TERM | "~" NAME | TEXTFIELD ":" primary | METAFIELD ":" TERM | "(" or ")"
    TERM     := word | word* | "a phrase" | “a phrase”

Precedence is NEAR > NOT > AND > OR. Only the upper-case words AND, OR, NOT and NEAR are
operators; "and", "or", "not" and "near" are ordinary words. A term's text is split into words
by ``tokens.spans``, so a bare ``SEND-workforce`` is the same two words as ``"SEND workforce"``
(but, being bare, its last word also accepts plurals). A ``*`` ends a word as a prefix wildcard.

Every match must rest on a term or filter that is not negated: the whole query needs one, and so
does every alternative of an OR (``NOT a OR b`` would otherwise match nearly every item).

Synonym sets come from configuration: ``parse(q, synonyms={"SEND": ["special educational
needs", "SEN"]})``. Each expansion is ONE term: a word, a phrase with or without quotes (without
quotes its words are a bare term, like ``SEND-workforce``), or a wildcard. A set also matches
its own name as a bare term, listed first (``~SEND`` matches "SEND", in capitals, as well as
"SEN"), unless an expansion already writes it. A ``Synonym`` node carries its parsed terms,
so an AST is self-contained and ``to_string`` prints ``~SEND``.

Errors are ``QuerySyntaxError`` with the 0-based position of the problem and, where there is
one, the fix ("unknown field 'dept' (did you mean department:?)").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from watcher.errors import QuerySyntaxError
from watcher.kinds import HOUSES, nouns
from watcher.match.nodes import (
    META_FIELDS,
    NEAR_DEFAULT,
    QUOTES,
    TEXT_FIELDS,
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Synonym,
    Term,
    is_positive,
)
from watcher.match.nodes import to_string as _print
from watcher.match.tokens import fold, spans

__all__ = ["MAX_DEPTH", "MAX_NEAR", "Query", "Synonyms", "parse", "parse_expansion", "to_string"]

MAX_DEPTH = 50  # of nested parentheses and NOTs; the parser and matcher recurse this deep
MAX_NEAR = 100
MIN_PREFIX = 2  # letters before a wildcard's *

Synonyms = Mapping[str, Sequence[str]]

_KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not"}
_NEAR = re.compile(r"NEAR(?:/(\d*))?")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_STOP = frozenset('()"\u201c')
_STARTS_UNARY = frozenset({"term", "not", "(", "syn", "field"})
_STARTS_PRIMARY = frozenset({"term", "(", "syn", "field"})
_OR_NEGATED = "each alternative of OR needs a term that is not negated"
# ``type:`` takes what a reader calls a kind (``type:statement``), see ``watcher.kinds``.
# ``house:`` a House or a devolved legislature as the records name it (``house:lords``,
# ``house:"Scottish Parliament"``).
_META_VALUES = {"house": HOUSES, "type": nouns()}


@dataclass(frozen=True)
class Query:
    """A parsed query: its source text and its AST."""

    text: str
    ast: Node

    def __str__(self) -> str:
        return self.text


def parse(query: str, synonyms: Synonyms | None = None) -> Query:
    """Parse ``query``; raise ``QuerySyntaxError`` with a 0-based position if it is invalid.

    ``synonyms`` maps a set's name to its expansions (see the module docstring)."""
    return Query(query, _Parser(query, _lex(query), synonyms or {}).parse())


def parse_expansion(text: str) -> Term:
    """One synonym expansion as a term; ``QuerySyntaxError`` if it is not exactly one term."""
    lexemes = _lex(text)[:-1]
    if not lexemes:
        raise QuerySyntaxError(text, 0, "empty synonym")
    for lexeme in lexemes:
        if lexeme.kind != "term" or lexeme.term is None:
            raise QuerySyntaxError(
                text,
                lexeme.start,
                "a synonym is one term or phrase; list alternatives as separate entries",
            )
    if len(lexemes) == 1 and lexemes[0].term is not None:
        return lexemes[0].term
    if any(lx.term is not None and lx.term.quoted for lx in lexemes):
        raise QuerySyntaxError(text, lexemes[1].start, "a synonym is one term or phrase")
    return Term(tuple(w for lx in lexemes if lx.term for w in lx.term.words), text.strip())


def to_string(ast: Node | Query) -> str:
    """Canonical text of a query: explicit AND, parentheses only where needed, terms as written."""
    return _print(ast.ast if isinstance(ast, Query) else ast)


@lru_cache(maxsize=4096)
def _expansions(name: str, expansions: tuple[str, ...]) -> tuple[Term, ...]:
    """The terms of set ``name``: the name itself as a bare term, then the expansions. Said
    aloud, ``~SEND NEAR workforce`` includes "SEND workforce"; a set that left out its own
    name would quietly miss it. The name is not added again when an expansion is written
    with the same words (quotes aside)."""
    terms = tuple(parse_expansion(x) for x in expansions)
    own = _own_term(name)
    if own is None or any(t.words == own.words for t in terms):
        return terms
    return (own, *terms)


def _own_term(name: str) -> Term | None:
    """A set's name as a bare term: ``SEND`` (in capitals, so an acronym), ``teachers``;
    ``-`` and ``_`` separate words, so ``early_years`` is "early years". None for a name
    without a letter or digit."""
    words = tuple(name[start:end] for start, end in spans(name))
    return Term(words, name) if words else None


# --- lexer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "term", "and", "or", "not", "near", "syn", "field", "(", ")", "end"
    start: int
    term: Term | None = None
    name: str = ""  # of a synonym set or a field
    distance: int = NEAR_DEFAULT
    adjacent: bool = False  # a field's value follows its colon directly


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Lexeme(c, i))
            i += 1
        elif c in QUOTES:
            close = query.find(QUOTES[c], i + 1)
            if close < 0:
                raise QuerySyntaxError(query, i, f"unclosed quote (close it with {QUOTES[c]})")
            out.append(_Lexeme("term", i, _term(query, i + 1, close, query[i : close + 1])))
            i = close + 1
        elif c == "-" and i + 1 < n and _starts_operand(query[i + 1]):
            out.append(_Lexeme("not", i))
            i += 1
        elif c == "~":
            m = _NAME.match(query, i + 1)
            if m is None:
                raise QuerySyntaxError(query, i, "~ needs a synonym set name after it (~SEND)")
            out.append(_Lexeme("syn", i, name=m.group()))
            i = m.end()
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _STOP:
                j += 1
            i = _bare(query, i, j, out)
    out.append(_Lexeme("end", n))
    return out


def _starts_operand(c: str) -> bool:
    return c.isalnum() or c in QUOTES or c in "(~"


def _bare(query: str, start: int, end: int, out: list[_Lexeme]) -> int:
    """Lex the bare run ``query[start:end]``; return where lexing continues."""
    raw = query[start:end]
    if raw in _KEYWORDS:
        out.append(_Lexeme(_KEYWORDS[raw], start))
        return end
    near = _NEAR.fullmatch(raw)
    if near:
        out.append(_Lexeme("near", start, distance=_distance(query, start, near.group(1))))
        return end
    if raw.startswith("NEAR/"):
        raise QuerySyntaxError(query, start, "NEAR/ needs a number of words (NEAR/5)")
    colon = raw.find(":")
    if colon >= 0:
        name = raw[:colon]
        _check_field(query, start, name)
        follows = start + colon + 1
        adjacent = follows < len(query) and not query[follows].isspace()
        out.append(_Lexeme("field", start, name=name, adjacent=adjacent))
        return follows
    tilde = raw.find("~")
    if tilde >= 0:
        raise QuerySyntaxError(
            query,
            start + tilde,
            "'~' starts a synonym set (~SEND); put the term in quotes to search for it as text",
        )
    if not spans(raw):
        raise QuerySyntaxError(query, start, "a term needs a letter or digit")
    out.append(_Lexeme("term", start, _term(query, start, end, raw)))
    return end


def _distance(query: str, start: int, digits: str | None) -> int:
    if digits is None:
        return NEAR_DEFAULT
    if not digits:
        raise QuerySyntaxError(query, start, "NEAR/ needs a number of words (NEAR/5)")
    distance = int(digits)
    if distance > MAX_NEAR:
        raise QuerySyntaxError(
            query, start, f"NEAR/{distance} is too far (at most NEAR/{MAX_NEAR})"
        )
    return distance


def _check_field(query: str, start: int, name: str) -> None:
    if name in TEXT_FIELDS or name in META_FIELDS:
        return
    known = (*TEXT_FIELDS, *META_FIELDS)
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.5)
    if not close:
        close = [k for k in known if name and k.startswith(name.lower())][:1]
    hint = (
        f"did you mean {close[0]}:?"
        if close
        else f"fields are {', '.join(known)}; put the term in quotes to search for ':'"
    )
    raise QuerySyntaxError(query, start, f"unknown field {name!r} ({hint})")


def _term(query: str, start: int, end: int, raw: str) -> Term:
    """The term written at ``query[start:end]`` (inside its quotes, if any)."""
    text = query[start:end]
    found = spans(text)
    if not found:
        raise QuerySyntaxError(query, start - 1, "empty phrase")
    words: list[str] = []
    for k, (s, e) in enumerate(found):
        word = text[s:e]
        if e < len(text) and text[e] == "*":
            if len(word) < MIN_PREFIX or word[-2:-1] in ("'", "\u2019"):
                raise QuerySyntaxError(
                    query, start + e, f"a wildcard needs at least {MIN_PREFIX} letters before *"
                )
            if e + 1 < len(text) and not text[e + 1].isspace() and spans(text[e + 1 : e + 2]):
                raise QuerySyntaxError(query, start + e, "'*' goes at the end of a word (therap*)")
            word += "*"
        words.append(word)
        # A * anywhere but straight after a word would silently mean nothing.
        gap_end = found[k + 1][0] if k + 1 < len(found) else len(text)
        star = text.find("*", e + (1 if word.endswith("*") else 0), gap_end)
        if star >= 0:
            raise QuerySyntaxError(query, start + star, "'*' goes at the end of a word (therap*)")
    star = text.find("*", 0, found[0][0])
    if star >= 0:
        raise QuerySyntaxError(query, start + star, "'*' goes at the end of a word (therap*)")
    return Term(tuple(words), raw)


# --- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str, lexemes: list[_Lexeme], synonyms: Synonyms) -> None:
        self._query = query
        self._lexemes = lexemes
        self._synonyms = synonyms
        self._i = 0
        self._depth = 0

    @property
    def _peek(self) -> _Lexeme:
        return self._lexemes[self._i]

    def _next(self) -> _Lexeme:
        lexeme = self._lexemes[self._i]
        self._i += 1
        return lexeme

    def _fail(self, position: int, problem: str) -> QuerySyntaxError:
        return QuerySyntaxError(self._query, position, problem)

    def parse(self) -> Node:
        first = self._peek
        if first.kind == "end":
            raise self._fail(0, "empty query")
        node = self._or()
        if self._peek.kind == ")":
            raise self._fail(self._peek.start, "unexpected ')'")
        if not is_positive(node):
            raise self._fail(first.start, "a query needs at least one term that is not negated")
        return node

    def _operand_after(self, op: _Lexeme) -> None:
        if self._peek.kind not in _STARTS_UNARY:
            raise self._fail(op.start, f"{op.kind.upper()} needs a term on both sides")

    def _or(self) -> Node:
        start = self._peek.start
        children: list[tuple[Node, int]] = [(self._and(), start)]
        while self._peek.kind == "or":
            op = self._next()
            self._operand_after(op)
            start = self._peek.start
            children.append((self._and(), start))
        if len(children) == 1:
            return children[0][0]
        for child, position in children:
            if not is_positive(child):
                raise self._fail(position, _OR_NEGATED)
        return Or(_flatten(Or, [child for child, _ in children]))

    def _and(self) -> Node:
        children = [self._unary()]
        while True:
            if self._peek.kind == "and":
                self._operand_after(self._next())
            elif self._peek.kind not in _STARTS_UNARY:
                break
            children.append(self._unary())
        return children[0] if len(children) == 1 else And(_flatten(And, children))

    def _unary(self) -> Node:
        lexeme = self._peek
        if lexeme.kind != "not":
            return self._near()
        self._next()
        if self._peek.kind not in _STARTS_UNARY:
            raise self._fail(lexeme.start, "NOT needs a term after it")
        with self._nested(lexeme.start):
            return Not(self._unary())

    def _near(self) -> Node:
        if self._peek.kind == "near":
            raise self._fail(self._peek.start, "NEAR needs a term on both sides")
        left_at = self._peek.start
        left = self._primary()
        if self._peek.kind != "near":
            return left
        op = self._next()
        if self._peek.kind not in _STARTS_PRIMARY:
            raise self._fail(op.start, "NEAR needs a term on both sides")
        right_at = self._peek.start
        right = self._primary()
        for side, at in ((left, left_at), (right, right_at)):
            if not isinstance(side, Term | Synonym):
                raise self._fail(at, "NEAR joins two terms, phrases or ~sets, not a group")
        if self._peek.kind == "near":
            raise self._fail(
                self._peek.start, "NEAR joins two terms; combine several with AND: (a NEAR b) c"
            )
        assert isinstance(left, Term | Synonym)
        assert isinstance(right, Term | Synonym)
        return Near(left, right, op.distance)

    def _primary(self) -> Node:
        lexeme = self._next()
        if lexeme.kind == "term" and lexeme.term is not None:
            return lexeme.term
        if lexeme.kind == "syn":
            return self._synonym(lexeme)
        if lexeme.kind == "field":
            return self._field(lexeme)
        if lexeme.kind == ")":
            raise self._fail(lexeme.start, "unexpected ')'")
        if lexeme.kind in ("and", "or"):
            raise self._fail(lexeme.start, f"{lexeme.kind.upper()} needs a term on both sides")
        if lexeme.kind != "(":
            raise self._fail(lexeme.start, "expected a term")
        if self._peek.kind == ")":
            raise self._fail(lexeme.start, "empty parentheses")
        if self._peek.kind == "end":
            raise self._fail(lexeme.start, "unclosed parenthesis (add a ')')")
        with self._nested(lexeme.start):
            node = self._or()
        if self._peek.kind != ")":
            raise self._fail(lexeme.start, "unclosed parenthesis (add a ')')")
        self._next()
        return node

    def _synonym(self, lexeme: _Lexeme) -> Synonym:
        name = lexeme.name
        if name not in self._synonyms:
            close = difflib.get_close_matches(name, list(self._synonyms), n=1, cutoff=0.5)
            hint = f" (did you mean ~{close[0]}?)" if close else " (define it under synonyms:)"
            raise self._fail(lexeme.start, f"unknown synonym set ~{name}{hint}")
        return Synonym(name, _expansions(name, tuple(self._synonyms[name])))

    def _field(self, lexeme: _Lexeme) -> Node:
        name = lexeme.name
        if not lexeme.adjacent or self._peek.kind not in _STARTS_PRIMARY - {"field"}:
            raise self._fail(lexeme.start, f"{name}: needs a value straight after the colon")
        if name in TEXT_FIELDS:
            with self._nested(lexeme.start):
                return Field(name, self._primary())
        value = self._next()
        if value.kind != "term" or value.term is None:
            raise self._fail(value.start, f"{name}: takes a word, a number or a quoted name")
        if any(w.endswith("*") for w in value.term.words):
            raise self._fail(value.start, f"{name}: takes no wildcards")
        allowed = _META_VALUES.get(name)
        if allowed and " ".join(fold(w) for w in value.term.words) not in allowed:
            said = ", ".join(f'"{a}"' if " " in a else a for a in allowed)
            raise self._fail(value.start, f"{name}: is one of {said}")
        return Meta(name, value.term)

    @contextmanager
    def _nested(self, position: int) -> Iterator[None]:
        # A hostile query must fail cleanly rather than exhaust the stack.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._fail(position, f"more than {MAX_DEPTH} nested parentheses or NOTs")
            yield
        finally:
            self._depth -= 1


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    return tuple(flat)
