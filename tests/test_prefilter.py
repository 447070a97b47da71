"""The prefilter: folded text, keys, literals and the rule set must never lose a match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.kinds.questions import question_facets, written_question
from watcher.match import (
    Document,
    Literal,
    Metadata,
    Rule,
    RuleSet,
    literals,
    match_document,
    match_events,
    matches,
    parse,
)
from watcher.match.document import FieldText, field_text, fold_text
from watcher.match.tokens import words
from watcher.model import Event, EventType, Hit, QuestionBody, Status, Text

ANSWERED = frozenset({EventType.ANSWERED})
SYNONYMS = {"SEND": ["special educational needs", "SEN", '"SEND support"'], "pay": ["salar*"]}

# --- folding: the fast path agrees with the tokeniser word for word -------------------------

_PIECES = [*"abcSENDxyz019 ,.-'’\n\t_/()*:;\"“”", "s", "s", "'s", "’s", "'S", "é", "É", "ï"]
_PIECES += ["ø", "Ø", "ß", "Σ", "π", "\u0308", "–", "\xa0", "ﬁ", "²", "™", "İ", "ʼ", "ª"]
_PIECES += ["µ", "ſ", "ŵ", "Ł", "½"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@given(_TEXT)
def test_folded_text_is_the_tokenisers_words(text: str) -> None:
    found = words(text)
    expected = " " + " ".join(w.norm for w in found) + " " if found else " "
    assert fold_text(text) == expected
    field = field_text(text)
    refs = _refs(field)
    assert [(field.start(r), field.end(r), field.norm(r)) for r in refs] == [
        (w.start, w.end, w.norm) for w in found
    ]
    assert [field.possessive(r) for r in refs] == [w.possessive for w in found]
    assert [field.in_capitals(r) for r in refs] == [w.caps for w in found]
    assert [field.gap(refs[0], r) for r in refs[1:]] == list(range(len(refs) - 1))


def _refs(field: FieldText) -> list[int]:
    """Every word of a field, walked the way the matcher walks a phrase."""
    refs: list[int] = []
    rest = field.scan.lstrip(" ")
    ref = field.ref(len(field.scan) - len(rest) - 1) if rest else None
    while ref is not None:
        refs.append(ref)
        ref = field.next(ref)
    return refs


def test_folding_examples() -> None:
    assert fold_text("The SEND-workforce’s plan, naïve CAFÉ") == (
        " the send workforce plan naive cafe "
    )
    assert fold_text("o'clock teachers' pay") == " o clock teachers pay "
    assert fold_text("Straße") == " strasse "
    assert fold_text("") == fold_text("...") == " "


# --- the rule set gives exactly what evaluating every rule gives ----------------------------

_VOCAB = ["send", "SEND", "workforce", "planning", "needs", "special", "therapy", "EHCP", "naïve"]
_WORDS = st.sampled_from(_VOCAB)


@st.composite
def _terms(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 7))
    if kind == 6:
        return draw(st.sampled_from(['"special work* needs"', '"special therap*"', '"SEND work*"']))
    if kind == 7:
        field = draw(st.sampled_from(["title", "question", "answer"]))
        group = draw(st.sampled_from(["(send OR EHCP)", "~SEND", '"special needs"', "(a b)"]))
        return f"{field}:{group}"
    if kind == 0:
        return draw(_WORDS)
    if kind == 1:
        return '"' + " ".join(draw(st.lists(_WORDS, min_size=1, max_size=3))) + '"'
    if kind == 2:
        return draw(st.sampled_from(["work*", "therap*", "EHCP*", "plan*", "spec*"]))
    if kind == 3:
        return draw(st.sampled_from(["~SEND", "~pay", "workforces", "children's"]))
    if kind == 4:
        field = draw(st.sampled_from(["title", "question", "answer"]))
        return f"{field}:{draw(_WORDS)}"
    return draw(st.sampled_from(["house:lords", "department:60", "member:Smith"]))


@st.composite
def _queries(draw: st.DrawFn) -> str:
    first = draw(_terms())
    shape = draw(st.integers(0, 6))
    second = draw(_terms())
    if shape == 5:
        near = f"{draw(_near_sides())} NEAR/1 {draw(_near_sides())}"
        return f"({first} OR {second}) AND ({near}) NOT {draw(_WORDS)}"
    if shape == 6:
        return f"{first} {second} {draw(_terms())}"
    if shape == 0:
        return first
    if shape == 1:
        return f"{first} {second}"
    if shape == 2:
        return f"{first} OR {second}"
    if shape == 3:
        return f"{first} -{draw(_WORDS)}"
    near = draw(st.sampled_from(["NEAR", "NEAR/0", "NEAR/2"]))
    return f"{draw(_near_sides())} {near} {draw(_near_sides())}"


def _near_sides() -> st.SearchStrategy[str]:
    return st.one_of(
        _WORDS, st.sampled_from(['"special needs"', "~SEND", "therap*", '"SEND work*"'])
    )


_DOC_WORDS = st.sampled_from(
    [
        *_VOCAB,
        *("Send", "workforce's", "workforces", "EHCPs", "ehcps", "therapists", "salaries"),
        *("children’s", "naive", "NAÏVE", "the", "and", "educational", "SEN", "support", "plans"),
        *("Straße", "a", "b"),
    ]
)
_SEPS = st.sampled_from([" ", " ", ", ", "-", "\n", ". ", " | "])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    ws = draw(st.lists(_DOC_WORDS, max_size=12))
    return "".join(w + draw(_SEPS) for w in ws)


@st.composite
def _documents(draw: st.DrawFn) -> Document:
    body = QuestionBody(
        Status.ANSWERED,
        department_id=draw(st.sampled_from([60, 17])),
        house=draw(st.sampled_from(["Commons", "Lords"])),
    )
    meta = Metadata(facets=question_facets(body))
    return Document(
        {"title": draw(_texts()), "question": draw(_texts()), "answer": draw(_texts())}, meta
    )


def _rules(queries: list[str]) -> list[Rule]:
    return [Rule(f"r{i}", parse(q, synonyms=SYNONYMS), ANSWERED) for i, q in enumerate(queries)]


@settings(max_examples=300)
@given(st.lists(_queries(), min_size=1, max_size=12), st.lists(_documents(), max_size=4))
def test_prefiltered_rules_match_exactly_as_every_rule_alone(
    queries: list[str], documents: list[Document]
) -> None:
    rules = _rules(queries)
    ruleset = RuleSet(rules)
    for document in documents:
        # A fresh document per evaluation: nothing found by one may help the other.
        alone = Document(dict(zip(document.names, (f.text for f in document.fields), strict=True)))
        alone.meta = document.meta
        expected = [
            (rule.id, hits)
            for rule in rules
            if (hits := match_document(rule.query, alone)) is not None
        ]
        assert [(rule.id, hits) for rule, hits in ruleset.match_document(document)] == expected
        # Deciding without hits gives the same answer, rule by rule.
        texts = dict(zip(document.names, (f.text for f in document.fields), strict=True))
        decided = [r.id for r in rules if matches(r.query, Document(texts, document.meta))]
        assert decided == [rule_id for rule_id, _ in expected]
        fresh = Document(texts, document.meta)
        assert sorted(ruleset.matching(fresh)) == [
            i for i, r in enumerate(rules) if r.id in decided
        ]


@settings(max_examples=300)
@given(_queries(), _texts())
def test_every_match_contains_one_of_the_querys_literals(query: str, text: str) -> None:
    parsed = parse(query, synonyms=SYNONYMS)
    found = literals(parsed)
    if (
        match_document(parsed, Document({"answer": text}, Metadata(facets={"house": ("Lords",)})))
        is None
    ):
        return
    if found is None:
        return  # only metadata filters: nothing to prefilter on, and that is allowed
    norms = {w.norm for w in words(text)}
    assert any(
        (lit.text in norms) if not lit.prefix else any(n.startswith(lit.text) for n in norms)
        for lit in found
    )


def test_literals_examples() -> None:
    def lits(query: str) -> set[Literal] | None:
        found = literals(parse(query, synonyms=SYNONYMS))
        return None if found is None else set(found)

    assert lits("house:lords") is None
    assert lits("SEND OR house:lords") is None
    assert lits("EHCP") == {Literal("ehcp")}
    assert lits("workforce") == {Literal("workforce"), Literal("workforces")}
    assert lits('"speech and language therap*"') == {Literal("language")}
    assert lits("therap* -statistics") == {Literal("therap", prefix=True)}
    # A set's own name is one of its terms: ~SEND needs "send" (in capitals) or an expansion.
    assert lits("~SEND") == {
        Literal("send"),
        Literal("educational"),
        Literal("sen"),
        Literal("support"),
    }
    assert lits("heading:EHCP house:lords") == {Literal("ehcp")}


# --- examples --------------------------------------------------------------------------------


def test_overlapping_phrases_both_hit() -> None:
    ruleset = RuleSet(_rules(['"SEND workforce"', '"workforce planning"', '"planning SEND"']))
    document = Document({"answer": "joint SEND workforce planning"})
    assert [(rule.id, hits) for rule, hits in ruleset.match_document(document)] == [
        ("r0", (Hit("answer", 6, 20, '"SEND workforce"'),)),
        ("r1", (Hit("answer", 11, 29, '"workforce planning"'),)),
    ]


def test_a_synonym_set_finds_its_own_name_through_the_automaton() -> None:
    # The example config's rule: before a set included its own name, only the phrase half
    # could match, and "the SEND teaching workforce" was missed.
    example = '"SEND workforce" OR (~SEND NEAR/5 workforce)'
    ruleset = RuleSet(_rules([example, "~SEND NEAR/5 workforce", "~SEND"]))
    said = Document({"answer": "Funding for the SEND teaching workforce."})
    assert [rule.id for rule, _ in ruleset.match_document(said)] == ["r0", "r1", "r2"]
    assert sorted(ruleset.matching(Document({"answer": "the SEND workforce"}))) == [0, 1, 2]
    # In capitals only, as the name is written: "send" the verb is not SEND.
    assert ruleset.match_document(Document({"answer": "We will send the workforce data."})) == []


def test_rules_without_literals_are_always_evaluated() -> None:
    ruleset = RuleSet(_rules(["house:lords", "EHCP"]))
    lords = Document({"answer": "nothing relevant"}, Metadata(facets={"house": ("Lords",)}))
    commons = Document({"answer": "nothing relevant"}, Metadata(facets={"house": ("Commons",)}))
    assert [rule.id for rule, _ in ruleset.match_document(lords)] == ["r0"]
    assert ruleset.match_document(commons) == []


def test_rules_sharing_a_query_are_compiled_once_and_all_reported() -> None:
    rules = _rules(["SEND", "SEND", "workforce"])
    ruleset = RuleSet(rules)
    assert len(ruleset) == 3
    assert list(ruleset) == rules
    found = ruleset.match_document(Document({"answer": "SEND workforce"}))
    assert [rule.id for rule, _ in found] == ["r0", "r1", "r2"]


def test_match_events_takes_a_ruleset_built_once() -> None:
    record = written_question(
        source="parliament",
        key="1",
        kind="written_question",
        title="Special Educational Needs",
        url="https://example.org/1",
        status=Status.ANSWERED,
        house="Lords",
        answer=Text("<p>SEND workforce</p>", "SEND workforce"),
    )
    event = Event(EventType.ANSWERED, record)
    ruleset = RuleSet(_rules(['"SEND workforce" house:lords', "house:commons"]))
    found = match_events(ruleset, [event])
    assert [(m.rule_id, m.hits) for m in found] == [
        (
            "r0",
            (Hit("answer", 0, 14, '"SEND workforce"'), Hit("house", 0, 0, "house:lords")),
        )
    ]
    assert match_events(ruleset, [Event(EventType.TABLED, record)]) == []
