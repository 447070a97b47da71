"""The query language: what parses to what, how it prints, and where errors point."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.config import parse as parse_config
from watcher.errors import ConfigError, QuerySyntaxError
from watcher.match import (
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Query,
    Synonym,
    Term,
    parse,
    to_string,
)
from watcher.match.query import MAX_DEPTH, MAX_NEAR, parse_expansion


def w(raw: str) -> Term:
    """A one-word bare term."""
    return Term((raw,), raw)


def ph(raw: str, *words: str) -> Term:
    return Term(words, raw)


a, b, c, d = w("a"), w("b"), w("c"), w("d")
SYNONYMS = {
    "SEND": ["special educational needs", "SEN", '"special educational needs and disabilities"'],
    "pay": ["salar*"],
}
SEND_SET = Synonym(
    "SEND",
    (
        w("SEND"),  # a set matches its own name
        ph("special educational needs", "special", "educational", "needs"),
        w("SEN"),
        ph(
            '"special educational needs and disabilities"',
            "special",
            "educational",
            "needs",
            "and",
            "disabilities",
        ),
    ),
)

PARSES: list[tuple[str, Node]] = [
    ("SEND", w("SEND")),
    ("   SEND\t", w("SEND")),
    ('"SEND workforce"', ph('"SEND workforce"', "SEND", "workforce")),
    ('"SEND,  workforce"', ph('"SEND,  workforce"', "SEND", "workforce")),
    ("“SEND workforce”", ph("“SEND workforce”", "SEND", "workforce")),
    ('"SEND"', ph('"SEND"', "SEND")),
    ("SEND-workforce", ph("SEND-workforce", "SEND", "workforce")),
    ("children's", w("children's")),
    ("children’s-workforce", ph("children’s-workforce", "children’s", "workforce")),
    ("o'clock", ph("o'clock", "o", "clock")),
    ('"heading: SEND*"', ph('"heading: SEND*"', "heading", "SEND*")),
    ("therap*", w("therap*")),
    ("EHCP*", w("EHCP*")),
    (
        '"speech and language therap*"',
        ph('"speech and language therap*"', "speech", "and", "language", "therap*"),
    ),
    ("SEND -statistics", And((w("SEND"), Not(w("statistics"))))),
    ('SEND -"a b"', And((w("SEND"), Not(ph('"a b"', "a", "b"))))),
    ("SEND -(a OR b)", And((w("SEND"), Not(Or((a, b)))))),
    ("SEND-statistics", ph("SEND-statistics", "SEND", "statistics")),
    ("a NEAR b", Near(a, b)),
    ("a NEAR/3 b", Near(a, b, 3)),
    ("a NEAR/10 b", Near(a, b)),
    ('"a b" NEAR/0 cd*', Near(ph('"a b"', "a", "b"), w("cd*"), 0)),
    ("a NEAR b c", And((Near(a, b), c))),
    ("NOT a NEAR b c", And((Not(Near(a, b)), c))),
    ("a near b", And((a, w("near"), b))),
    ("~SEND", SEND_SET),
    ("~SEND NEAR/2 workforce", Near(SEND_SET, w("workforce"), 2)),
    ("heading:SEND", Field("heading", w("SEND"))),
    ('question:"a b"', Field("question", ph('"a b"', "a", "b"))),
    ("answer:(a OR b)", Field("answer", Or((a, b)))),
    ("answer:~SEND", Field("answer", SEND_SET)),
    ("house:lords", Meta("house", w("lords"))),
    ("department:60", Meta("department", w("60"))),
    (
        'department:"Department for Education"',
        Meta("department", ph('"Department for Education"', "Department", "for", "Education")),
    ),
    (
        "SEND member:4099 type:question",
        And((w("SEND"), Meta("member", w("4099")), Meta("type", w("question")))),
    ),
    ("uin:HL1234", Meta("uin", w("HL1234"))),
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


HOUSE_VALUES = (
    'house: is one of commons, lords, joint, "scottish parliament", "northern ireland assembly"'
)


@pytest.mark.parametrize(("query", "ast"), PARSES)
def test_parse(query: str, ast: Node) -> None:
    parsed = parse(query, synonyms=SYNONYMS)
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
    ("SEND -statistics", "SEND AND NOT statistics"),
    ("a NEAR/10 b", "a NEAR b"),
    ("a NEAR/2 b c", "a NEAR/2 b AND c"),
    ("-a NEAR b c", "NOT a NEAR b AND c"),
    ("heading:(a b) house:lords", "heading:(a AND b) AND house:lords"),
    ("~SEND -~pay", "~SEND AND NOT ~pay"),
]


@pytest.mark.parametrize(("query", "text"), CANONICAL)
def test_to_string_is_canonical(query: str, text: str) -> None:
    assert to_string(parse(query, SYNONYMS)) == text
    assert to_string(parse(query, SYNONYMS).ast) == text
    assert parse(text, SYNONYMS).ast == parse(query, SYNONYMS).ast


@pytest.mark.parametrize("query", [q for q, _ in PARSES])
def test_printed_queries_parse_to_the_same_ast(query: str) -> None:
    ast = parse(query, SYNONYMS).ast
    assert parse(to_string(ast), SYNONYMS).ast == ast


NOT_NEGATED = "a query needs at least one term that is not negated"
OR_NEGATED = "each alternative of OR needs a term that is not negated"
DEEP = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)

ERRORS = [
    ("", 0, "empty query"),
    ("   ", 0, "empty query"),
    ('"SEND workforce', 0, 'unclosed quote (close it with ")'),
    ('a "b', 2, 'unclosed quote (close it with ")'),
    ("a “b c", 2, "unclosed quote (close it with ”)"),
    ('""', 0, "empty phrase"),
    ('a " - "', 2, "empty phrase"),
    ("(a", 0, "unclosed parenthesis (add a ')')"),
    ("(", 0, "unclosed parenthesis (add a ')')"),
    ("a (b OR (c)", 2, "unclosed parenthesis (add a ')')"),
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
    ("SEND - x", 5, "a term needs a letter or digit"),
    ("SEND & workforce", 5, "a term needs a letter or digit"),
    ("-a", 0, NOT_NEGATED),
    ("a OR -b", 5, OR_NEGATED),
    ("a NEAR", 2, "NEAR needs a term on both sides"),
    ("NEAR a", 0, "NEAR needs a term on both sides"),
    ("a NEAR/3 OR b", 2, "NEAR needs a term on both sides"),
    ("a NEAR -b", 2, "NEAR needs a term on both sides"),
    ("a NEAR b NEAR c", 9, "NEAR joins two terms; combine several with AND: (a NEAR b) c"),
    ("(a OR b) NEAR c", 0, "NEAR joins two terms, phrases or ~sets, not a group"),
    ("a NEAR house:lords", 7, "NEAR joins two terms, phrases or ~sets, not a group"),
    ("a NEAR/ b", 2, "NEAR/ needs a number of words (NEAR/5)"),
    ("a NEAR/x b", 2, "NEAR/ needs a number of words (NEAR/5)"),
    (f"a NEAR/{MAX_NEAR + 1} b", 2, f"NEAR/{MAX_NEAR + 1} is too far (at most NEAR/{MAX_NEAR})"),
    ("ther*apy", 4, "'*' goes at the end of a word (therap*)"),
    ("*therapy", 0, "'*' goes at the end of a word (therap*)"),
    ('"speech * therapy"', 8, "'*' goes at the end of a word (therap*)"),
    ("t*", 1, "a wildcard needs at least 2 letters before *"),
    ("children's*", 10, "a wildcard needs at least 2 letters before *"),
    ("dept:education", 0, "unknown field 'dept' (did you mean department:?)"),
    ("SEND headin:x", 5, "unknown field 'headin' (did you mean heading:?)"),
    ("SEND answered:x", 5, "unknown field 'answered' (did you mean answer:?)"),
    ("asked:x", 0, "unknown field 'asked' (did you mean asked_by:?)"),
    (
        "at 10:30",
        3,
        "unknown field '10' (fields are title, heading, question, answer, text, summary, "
        "content, house, department, member, asked_by, answered_by, party, uin, author, "
        "organisation, category, section, committee, type, source; put the term in quotes "
        "to search for ':')",
    ),
    ("heading: SEND", 0, "heading: needs a value straight after the colon"),
    ("SEND heading:", 5, "heading: needs a value straight after the colon"),
    ("house:parliament", 6, HOUSE_VALUES),
    ('house:"house of lords"', 6, HOUSE_VALUES),
    ("type:debate", 5, "type: is one of question, statement, entry, contribution, publication"),
    ("department:(a OR b)", 11, "department: takes a word, a number or a quoted name"),
    ("member:~SEND", 7, "member: takes a word, a number or a quoted name"),
    ("uin:HL*", 4, "uin: takes no wildcards"),
    ("a ~SED", 2, "unknown synonym set ~SED (did you mean ~SEND?)"),
    ("~nothing", 0, "unknown synonym set ~nothing (define it under synonyms:)"),
    ("a ~", 2, "~ needs a synonym set name after it (~SEND)"),
    ("a~b", 1, "'~' starts a synonym set (~SEND); put the term in quotes to search for it as text"),
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
        parse(query, SYNONYMS)
    assert (caught.value.query, caught.value.position, caught.value.problem) == (
        query,
        position,
        problem,
    )
    assert str(caught.value) == f"{problem} at position {position}"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("SEN", w("SEN")),
        (
            "special educational needs",
            ph("special educational needs", "special", "educational", "needs"),
        ),
        ('  "SEND support" ', ph('"SEND support"', "SEND", "support")),
        ("therap*", w("therap*")),
    ],
)
def test_a_synonym_expansion_is_one_term(text: str, term: Term) -> None:
    assert parse_expansion(text) == term


@pytest.mark.parametrize(
    ("text", "position"),
    [("", 0), ("a OR b", 2), ("(a)", 0), ('"a" b', 4), ("~x", 0), ("house:lords", 0)],
)
def test_a_synonym_expansion_with_operators_is_an_error(text: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_expansion(text)
    assert caught.value.position == position


def test_error_pointer_marks_the_position() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("SEND OR")
    assert caught.value.pointer() == "SEND OR\n     ^"


# --- round trip over generated ASTs --------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éïçøßÅΣπ"
_KEYWORDS = {"AND", "OR", "NOT", "NEAR"}

plain_words = st.text(alphabet=_LETTERS, min_size=1, max_size=8)
query_words = st.one_of(
    plain_words,
    plain_words.map(lambda x: x + "'s"),  # a possessive stays on its word
    st.text(alphabet=_LETTERS, min_size=2, max_size=8).map(lambda x: x + "*"),
)


@st.composite
def bare_terms(draw: st.DrawFn) -> Term:
    ws = draw(st.lists(query_words, min_size=1, max_size=3))
    seps = draw(
        st.lists(
            st.sampled_from(["-", "/", ".", ",", "--", "_"]),
            min_size=len(ws) - 1,
            max_size=len(ws) - 1,
        )
    )
    raw = ws[0] + "".join(s + x for s, x in zip(seps, ws[1:], strict=True))
    if raw in _KEYWORDS or raw.startswith("NEAR/"):
        raw = raw.lower()
        ws = [x.lower() for x in ws]
    return Term(tuple(ws), raw)


@st.composite
def phrase_terms(draw: st.DrawFn) -> Term:
    ws = draw(st.lists(query_words, min_size=1, max_size=4))
    seps = draw(
        st.lists(
            st.sampled_from([" ", "  ", "-", ", ", "\n", ":", "~", "()", " - "]),
            min_size=len(ws) - 1,
            max_size=len(ws) - 1,
        )
    )
    opening, closing = draw(st.sampled_from([('"', '"'), ("“", "”")]))
    body = ws[0] + "".join(s + x for s, x in zip(seps, ws[1:], strict=True))
    return Term(tuple(ws), opening + body + closing)


terms = st.one_of(bare_terms(), phrase_terms())
synonym_sets = st.sampled_from(sorted(SYNONYMS)).map(lambda name: parse("~" + name, SYNONYMS).ast)
term_likes = st.one_of(terms, synonym_sets)
nears = st.builds(Near, term_likes, term_likes, st.integers(0, MAX_NEAR))
metas = st.one_of(
    st.builds(Meta, st.just("house"), st.sampled_from([w("lords"), w("Commons")])),
    st.builds(Meta, st.just("type"), st.sampled_from([w("question"), w("entry")])),
    st.builds(
        Meta,
        st.sampled_from(["department", "member", "asked_by", "answered_by", "party", "uin"]),
        st.one_of(st.builds(lambda x: w(x), plain_words.filter(lambda x: x not in _KEYWORDS))),
    ),
)


def _positive(node: Node) -> Node:
    """The nearest AST that parse accepts: every match rests on a term that is not negated."""
    if isinstance(node, Not):
        return And((w("anchor"), _inner(node)))
    if isinstance(node, And):
        children = tuple(
            _inner(ch) if isinstance(ch, Not) else _positive(ch) for ch in node.children
        )
        if any(not isinstance(ch, Not) for ch in node.children):
            return And(children)
        return And((w("anchor"), *children))
    if isinstance(node, Or):
        return Or(tuple(_positive(ch) for ch in node.children))
    if isinstance(node, Field):
        return Field(node.name, _positive(node.child))
    return node


def _inner(node: Not) -> Not:
    """A negation whose inside parses too (an OR inside it still needs positive alternatives)."""
    return Not(_positive(node.child))


def _canonical(node: Node) -> Node:
    """Flatten AND in AND and OR in OR, as the parser does."""
    if isinstance(node, Not):
        return Not(_canonical(node.child))
    if isinstance(node, And):
        return And(tuple(_flat(And, node.children)))
    if isinstance(node, Or):
        return Or(tuple(_flat(Or, node.children)))
    if isinstance(node, Field):
        return Field(node.name, _canonical(node.child))
    return node


def _flat(kind: type[And | Or], children: tuple[Node, ...]) -> list[Node]:
    out: list[Node] = []
    for child in map(_canonical, children):
        out.extend(child.children if isinstance(child, kind) else (child,))
    return out


asts = (
    st.recursive(
        st.one_of(terms, synonym_sets, nears, metas),
        lambda children: st.one_of(
            st.builds(Not, children),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
            st.builds(Field, st.sampled_from(["heading", "question", "answer"]), children),
        ),
        max_leaves=10,
    )
    .map(_positive)
    .map(_canonical)
)


@given(asts)
def test_generated_asts_round_trip(ast: Node) -> None:
    text = to_string(ast)
    assert parse(text, SYNONYMS).ast == ast
    assert to_string(parse(text, SYNONYMS)) == text


# --- synonym sets in configuration ------------------------------------------------------------

CONFIG = """
sources:
  - id: wq
    kind: parliament_written_questions
synonyms:
  SEND: [special educational needs, SEN, '"special educational needs and disabilities"']
rules:
  - id: r
    query: '~SEND NEAR/5 workforce'
subscriptions:
  - rules: [r]
"""


def test_a_synonym_set_includes_its_own_name_once() -> None:
    def terms(name: str, *expansions: str) -> tuple[Term, ...]:
        ast = parse("~" + name, {name: list(expansions)}).ast
        assert isinstance(ast, Synonym)
        return ast.terms

    # The name comes first, as a bare term: in capitals, an acronym.
    assert terms("SEND", "SEN") == (w("SEND"), w("SEN"))
    assert terms("teachers", "teaching staff") == (
        w("teachers"),
        ph("teaching staff", "teaching", "staff"),
    )
    # Already listed, quoted or not: not added again, and the set's order is kept.
    assert terms("SEND", "SEN", "SEND") == (w("SEN"), w("SEND"))
    assert terms("SEND", '"SEND"') == (Term(("SEND",), '"SEND"'),)
    # Written in another case it is another term (send is not SEND): the name is added.
    assert terms("SEND", "send") == (w("SEND"), w("send"))
    # "-" and "_" separate words, as in a bare term; a name with no letter adds nothing.
    assert terms("early_years", "EYFS") == (Term(("early", "years"), "early_years"), w("EYFS"))
    assert terms("_", "x") == (w("x"),)
    # Printing still gives the set's name, and it parses back to the same set.
    assert to_string(parse("~SEND NEAR/5 workforce", SYNONYMS)) == "~SEND NEAR/5 workforce"


def test_config_synonyms_are_used_by_rules() -> None:
    config = parse_config(CONFIG, "watcher.yaml", {})
    assert config.synonyms["SEND"][1] == "SEN"
    ast = parse(config.rules[0].query, synonyms=config.synonyms).ast
    assert ast == Near(SEND_SET, w("workforce"), 5)


@pytest.mark.parametrize(
    ("change", "path", "problem"),
    [
        (
            ("~SEND NEAR", "~SED NEAR"),
            "rules[0].query",
            "unknown synonym set ~SED (did you mean ~SEND?) at position 0",
        ),
        (("SEN, '", "SEN OR x, '"), "synonyms", "SEND[1]: a synonym is one term or phrase"),
        (("SEND: [", "S E N D: ["), "synonyms", "may only use letters, digits, _ and -"),
        (
            ("[special educational needs, SEN, '\"special", "[] #"),
            "synonyms",
            "needs at least one term",
        ),
    ],
)
def test_config_synonym_problems_name_the_key(
    change: tuple[str, str], path: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace(*change), "watcher.yaml", {})
    assert caught.value.problems[0][0] == path
    assert problem in caught.value.problems[0][1]


def test_a_bad_synonym_is_reported_once_not_again_for_each_rule() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace("SEN, '", "(SEN, '"), "watcher.yaml", {})
    assert [path for path, _ in caught.value.problems] == ["synonyms"]
