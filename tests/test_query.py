"""The query language: what parses to what, how it prints, and where errors point."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.errors import QuerySyntaxError
from watcher.match import And, Node, Not, Or, Query, Term, parse, to_string
from watcher.match.query import MAX_DEPTH


def w(raw: str) -> Term:
    """A one-word bare term."""
    return Term((raw,), raw)


def ph(raw: str, *words: str) -> Term:
    return Term(words, raw)


a, b, c, d = w("a"), w("b"), w("c"), w("d")

PARSES: list[tuple[str, Node]] = [
    ("SEND", w("SEND")),
    ("   SEND\t", w("SEND")),
    ('"SEND workforce"', ph('"SEND workforce"', "SEND", "workforce")),
    ('"SEND,  workforce"', ph('"SEND,  workforce"', "SEND", "workforce")),
    ("“SEND workforce”", ph("“SEND workforce”", "SEND", "workforce")),
    ('"SEND"', ph('"SEND"', "SEND")),
    ("SEND-workforce", ph("SEND-workforce", "SEND", "workforce")),
    ("children's", ph("children's", "children", "s")),
    ('"heading: SEND*"', ph('"heading: SEND*"', "heading", "SEND")),
    ("naïve", w("naïve")),
    ("a b", And((a, b))),
    ("a AND b", And((a, b))),
    ("a AND b AND c", And((a, b, c))),
    ("a and b", And((a, w("and"), b))),
    ("a or b", And((a, w("or"), b))),
    ("not a", And((w("not"), a))),
    ('a "AND" b', And((a, ph('"AND"', "AND"), b))),
    ("a OR b", Or((a, b))),
    ("a OR b OR c", Or((a, b, c))),
    ("a OR b c", Or((a, And((b, c))))),
    ("a b OR c", Or((And((a, b)), c))),
    ("a AND b OR c AND d", Or((And((a, b)), And((c, d))))),
    ("a NOT b", And((a, Not(b)))),
    ("NOT a b", And((Not(a), b))),
    ("a AND NOT b OR c", Or((And((a, Not(b))), c))),
    ("a OR b NOT c", Or((a, And((b, Not(c)))))),
    ("a NOT NOT b", And((a, Not(Not(b))))),
    ("(a OR b) c", And((Or((a, b)), c))),
    ("a (b OR c)", And((a, Or((b, c))))),
    ("a NOT (b OR c)", And((a, Not(Or((b, c)))))),
    ("((a))", a),
    ("a (b c)", And((a, b, c))),
    ("(a OR b) OR c", Or((a, b, c))),
    ("(a b) (c d)", And((a, b, c, d))),
    ('SEND"workforce"', And((w("SEND"), ph('"workforce"', "workforce")))),
    ("(a)b", And((a, b))),
]


@pytest.mark.parametrize(("query", "ast"), PARSES)
def test_parse(query: str, ast: Node) -> None:
    parsed = parse(query)
    assert parsed == Query(query, ast)
    assert str(parsed) == query


CANONICAL = [
    ("a b", "a AND b"),
    ("  a   AND b ", "a AND b"),
    ("a OR b c", "a OR b AND c"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("((a))", "a"),
    ("a (b c)", "a AND b AND c"),
    ("a NOT (b OR c)", "a AND NOT (b OR c)"),
    ("NOT (a b) c", "NOT (a AND b) AND c"),
    ("a NOT NOT b", "a AND NOT NOT b"),
    ('"SEND,  workforce" EHCP', '"SEND,  workforce" AND EHCP'),
    ("SEND-workforce OR “SEN support”", "SEND-workforce OR “SEN support”"),
]


@pytest.mark.parametrize(("query", "text"), CANONICAL)
def test_to_string_is_canonical(query: str, text: str) -> None:
    assert to_string(parse(query)) == text
    assert to_string(parse(query).ast) == text
    assert parse(text).ast == parse(query).ast


@pytest.mark.parametrize("query", [q for q, _ in PARSES])
def test_printed_queries_parse_to_the_same_ast(query: str) -> None:
    ast = parse(query).ast
    assert parse(to_string(ast)).ast == ast


NOT_NEGATED = "a query needs at least one term that is not negated"
OR_NEGATED = "each alternative of OR needs a term that is not negated"
DEEP = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)

ERRORS = [
    ("", 0, "empty query"),
    ("   ", 0, "empty query"),
    ('"SEND workforce', 0, "unclosed quote"),
    ('a "b', 2, "unclosed quote"),
    ("a “b c", 2, "unclosed quote"),
    ('""', 0, "empty phrase"),
    ('a " - "', 2, "empty phrase"),
    ("(a", 0, "unclosed parenthesis"),
    ("(", 0, "unclosed parenthesis"),
    ("a (b OR (c)", 2, "unclosed parenthesis"),
    ("a)", 1, "unexpected ')'"),
    (")", 0, "unexpected ')'"),
    ("(a))", 3, "unexpected ')'"),
    ("()", 0, "empty parentheses"),
    ("a ( ) b", 2, "empty parentheses"),
    ("a OR", 2, "OR needs a term on both sides"),
    ("OR a", 0, "OR needs a term on both sides"),
    ("a OR OR b", 2, "OR needs a term on both sides"),
    ("(a OR) b", 3, "OR needs a term on both sides"),
    ("a OR AND b", 2, "OR needs a term on both sides"),
    ("a AND", 2, "AND needs a term on both sides"),
    ("AND a", 0, "AND needs a term on both sides"),
    ("a AND OR b", 2, "AND needs a term on both sides"),
    ("(AND a)", 1, "AND needs a term on both sides"),
    ("NOT", 0, "NOT needs a term after it"),
    ("a NOT", 2, "NOT needs a term after it"),
    ("a NOT OR b", 2, "NOT needs a term after it"),
    ("(a NOT)", 3, "NOT needs a term after it"),
    ("NOT a", 0, NOT_NEGATED),
    ("  NOT a NOT b", 2, NOT_NEGATED),
    ("(NOT a)", 0, NOT_NEGATED),
    ("NOT NOT a", 0, NOT_NEGATED),
    ("NOT a OR b", 0, OR_NEGATED),
    ("a OR NOT b", 5, OR_NEGATED),
    ("x (a OR NOT b)", 8, OR_NEGATED),
    ("-", 0, "a term needs a letter or digit"),
    ("SEND & workforce", 5, "a term needs a letter or digit"),
    (DEEP, MAX_DEPTH, f"more than {MAX_DEPTH} nested parentheses or NOTs"),
    (
        "a " + "NOT " * (MAX_DEPTH + 1) + "b",
        2 + 4 * MAX_DEPTH,
        f"more than {MAX_DEPTH} nested parentheses or NOTs",
    ),
]


@pytest.mark.parametrize(("query", "position", "problem"), ERRORS)
def test_syntax_errors_say_what_and_where(query: str, position: int, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert (caught.value.query, caught.value.position, caught.value.problem) == (
        query,
        position,
        problem,
    )
    assert str(caught.value) == f"{problem} at position {position}"


@pytest.mark.parametrize(
    ("query", "position", "char"),
    [("educat*", 6, "*"), ("heading:SEND", 7, ":"), ("a ~SEND", 2, "~")],
)
def test_characters_kept_for_later_extensions_are_rejected(
    query: str, position: int, char: str
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert caught.value.position == position
    assert caught.value.problem.startswith(f"{char!r} is reserved")
    assert "quotes" in caught.value.problem


def test_error_pointer_marks_the_position() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("SEND OR")
    assert caught.value.pointer() == "SEND OR\n     ^"


# --- round trip over generated ASTs --------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éïçøßÅΣπ"
_KEYWORDS = {"AND", "OR", "NOT"}

query_words = st.text(alphabet=_LETTERS, min_size=1, max_size=8)


@st.composite
def bare_terms(draw: st.DrawFn) -> Term:
    ws = draw(st.lists(query_words, min_size=1, max_size=3))
    seps = draw(
        st.lists(
            st.sampled_from(["-", "'", "/", ".", ",", "’", "--"]),
            min_size=len(ws) - 1,
            max_size=len(ws) - 1,
        )
    )
    raw = ws[0] + "".join(s + x for s, x in zip(seps, ws[1:], strict=True))
    if raw in _KEYWORDS:
        raw = raw.lower()
        ws = [raw]
    return Term(tuple(ws), raw)


@st.composite
def phrase_terms(draw: st.DrawFn) -> Term:
    ws = draw(st.lists(query_words, min_size=1, max_size=4))
    seps = draw(
        st.lists(
            st.sampled_from([" ", "  ", "-", ", ", "\n", ":", "*", "~", "()"]),
            min_size=len(ws) - 1,
            max_size=len(ws) - 1,
        )
    )
    opening, closing = draw(st.sampled_from([('"', '"'), ("“", "”")]))
    body = ws[0] + "".join(s + x for s, x in zip(seps, ws[1:], strict=True))
    return Term(tuple(ws), opening + body + closing)


def _positive(node: Node) -> Node:
    """The nearest AST that parse accepts: every match rests on a term that is not negated."""
    if isinstance(node, Not):
        return And((w("anchor"), node))
    if isinstance(node, And):
        if any(not isinstance(ch, Not) for ch in node.children):
            return And(
                tuple(_positive(ch) if not isinstance(ch, Not) else ch for ch in node.children)
            )
        return And((w("anchor"), *node.children))
    if isinstance(node, Or):
        return Or(tuple(_positive(ch) for ch in node.children))
    return node


def _canonical(node: Node) -> Node:
    """Flatten AND in AND and OR in OR, as the parser does."""
    if isinstance(node, Not):
        return Not(_canonical(node.child))
    if isinstance(node, And):
        return And(tuple(_flat(And, node.children)))
    if isinstance(node, Or):
        return Or(tuple(_flat(Or, node.children)))
    return node


def _flat(kind: type[And | Or], children: tuple[Node, ...]) -> list[Node]:
    out: list[Node] = []
    for child in map(_canonical, children):
        out.extend(child.children if isinstance(child, kind) else (child,))
    return out


asts = (
    st.recursive(
        st.one_of(bare_terms(), phrase_terms()),
        lambda children: st.one_of(
            st.builds(Not, children),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
        ),
        max_leaves=10,
    )
    .map(_positive)
    .map(_canonical)
)


@given(asts)
def test_generated_asts_round_trip(ast: Node) -> None:
    text = to_string(ast)
    assert parse(text).ast == ast
    assert to_string(parse(text)) == text
