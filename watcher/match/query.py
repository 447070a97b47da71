"""The query language: lexer, recursive-descent parser, AST and canonical printer.

Grammar (first version)::

    query    := or END
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*      adjacent terms are ANDed implicitly
    unary    := "NOT" unary | primary
    primary  := TERM | "(" or ")"
    TERM     := word | "a phrase" | “a phrase”

Precedence is NOT > AND > OR. Only the upper-case words AND, OR and NOT are operators; "and",
"or" and "not" are ordinary words. A term's text is split into words by ``tokens.spans``, so a
bare ``SEND-workforce`` is the same two-word term as ``"SEND workforce"``.

Every match must rest on a term that is not negated: the whole query needs one, and so does
every alternative of an OR (``NOT a OR b`` would otherwise match nearly every item, with nothing
to highlight).

The characters ``*``, ``~`` and ``:`` are reserved in unquoted terms for later extensions
(prefix wildcards, synonym sets, field filters), so a rule written today cannot silently change
meaning when they arrive. ``NEAR/n`` will be a new node type beside ``And``; wildcards,
inflections and synonyms will be properties of a ``Term``'s words that the matcher compiles.

The AST is canonical: ``And``/``Or`` have at least two children and never a child of their own
type (nesting is flattened), and ``to_string`` prints terms exactly as written, so
``parse(to_string(parse(q).ast)).ast == parse(q).ast``. Matching is left to ``matcher``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeAlias

from watcher.errors import QuerySyntaxError
from watcher.match.tokens import spans

MAX_DEPTH = 50  # of nested parentheses and NOTs; the parser and matcher recurse this deep

_KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not"}
_QUOTES = {'"': '"', "\u201c": "\u201d"}  # “curly” quotes come with text pasted from documents
_STOP = frozenset('()"\u201c')
_RESERVED = frozenset("*~:")
_STARTS_UNARY = frozenset({"term", "not", "("})
_OR_NEGATED = "each alternative of OR needs a term that is not negated"


@dataclass(frozen=True)
class Term:
    """A word or phrase. ``words`` are the query's words as written (in order, each one word for
    ``tokens.spans``); ``raw`` is the term as written in the query, quotes included."""

    words: tuple[str, ...]
    raw: str


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node: TypeAlias = Term | And | Or | Not


@dataclass(frozen=True)
class Query:
    """A parsed query: its source text and its AST."""

    text: str
    ast: Node

    def __str__(self) -> str:
        return self.text


def parse(query: str) -> Query:
    """Parse ``query``; raise ``QuerySyntaxError`` with a 0-based position if it is invalid."""
    return Query(query, _Parser(query, _lex(query)).parse())


def to_string(ast: Node | Query) -> str:
    """Canonical text of a query: explicit AND, parentheses only where needed, terms as written."""
    return _print(ast.ast if isinstance(ast, Query) else ast)


def is_positive(node: Node) -> bool:
    """True if every item this node matches has a non-negated term that matched it."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_positive(c) for c in node.children)
    return all(is_positive(c) for c in node.children)


# --- lexer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "term", "and", "or", "not", "(", ")", "end"
    start: int
    term: Term | None = None


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
        elif c in _QUOTES:
            close = query.find(_QUOTES[c], i + 1)
            if close < 0:
                raise QuerySyntaxError(query, i, "unclosed quote")
            inner = query[i + 1 : close]
            if not spans(inner):
                raise QuerySyntaxError(query, i, "empty phrase")
            out.append(_Lexeme("term", i, _term(inner, query[i : close + 1])))
            i = close + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _STOP:
                j += 1
            out.append(_bare(query, i, j))
            i = j
    out.append(_Lexeme("end", n))
    return out


def _bare(query: str, start: int, end: int) -> _Lexeme:
    raw = query[start:end]
    if raw in _KEYWORDS:
        return _Lexeme(_KEYWORDS[raw], start)
    for k, ch in enumerate(raw):
        if ch in _RESERVED:
            raise QuerySyntaxError(
                query,
                start + k,
                f"{ch!r} is reserved for a later version of the query language; "
                "put the term in quotes to search for it as text",
            )
    if not spans(raw):
        raise QuerySyntaxError(query, start, "a term needs a letter or digit")
    return _Lexeme("term", start, _term(raw, raw))


def _term(text: str, raw: str) -> Term:
    return Term(tuple(text[s:e] for s, e in spans(text)), raw)


# --- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str, lexemes: list[_Lexeme]) -> None:
        self._query = query
        self._lexemes = lexemes
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
            return self._primary()
        self._next()
        if self._peek.kind not in _STARTS_UNARY:
            raise self._fail(lexeme.start, "NOT needs a term after it")
        with self._nested(lexeme.start):
            return Not(self._unary())

    def _primary(self) -> Node:
        lexeme = self._next()
        if lexeme.kind == "term" and lexeme.term is not None:
            return lexeme.term
        if lexeme.kind == ")":
            raise self._fail(lexeme.start, "unexpected ')'")
        if lexeme.kind in ("and", "or"):
            raise self._fail(lexeme.start, f"{lexeme.kind.upper()} needs a term on both sides")
        if lexeme.kind != "(":
            raise self._fail(lexeme.start, "expected a term")
        if self._peek.kind == ")":
            raise self._fail(lexeme.start, "empty parentheses")
        if self._peek.kind == "end":
            raise self._fail(lexeme.start, "unclosed parenthesis")
        with self._nested(lexeme.start):
            node = self._or()
        if self._peek.kind != ")":
            raise self._fail(lexeme.start, "unclosed parenthesis")
        self._next()
        return node

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


# --- printer -------------------------------------------------------------------------------

_PRECEDENCE = {Or: 1, And: 2, Not: 3, Term: 4}


def _print(node: Node) -> str:
    if isinstance(node, Term):
        return node.raw
    if isinstance(node, Not):
        return "NOT " + _wrapped(node.child, 3)
    if isinstance(node, And):
        return " AND ".join(_wrapped(c, 2) for c in node.children)
    return " OR ".join(_wrapped(c, 1) for c in node.children)


def _wrapped(node: Node, binding: int) -> str:
    text = _print(node)
    return f"({text})" if _PRECEDENCE[type(node)] < binding else text
