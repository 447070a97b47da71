"""Matching queries against documents and rules against events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from watcher.kinds.questions import question_facets, revise, written_question
from watcher.match import (
    Document,
    Metadata,
    Rule,
    RuleSet,
    explain,
    match,
    match_document,
    match_events,
    parse,
)
from watcher.match.tokens import fold, inflections, is_acronym, words
from watcher.model import (
    Event,
    EventType,
    Hit,
    Match,
    Person,
    QuestionBody,
    Record,
    Status,
    Text,
)
from watcher.text import html_to_text, sanitise_html

# The seed question (Commons, UIN 8602, answered 15 January 2024), as published; copied from
# /work/shared/reference/parliament-api/seed-question-send-workforce.partial.json.
SEED_ANSWER_HTML = (
    "<p>The Special Educational Needs and Disabilities (SEND) and Alternative Provision "
    "Improvement Plan, published on 2 March 2023, set out that the Department for Education "
    "will work with the Department of Health and Social Care to take a joint approach to "
    "SEND workforce planning, and a steering group has now been established to oversee this "
    "work.</p><p>As part of the steering group for joint SEND workforce planning, officials "
    "are working closely with the SEND in the specialists coalition to seek their views and "
    "have regular meetings with representatives from the coalition to gain sector insight "
    "and collaborate on ongoing policy work. On the 14 November 2023, officials from the "
    "Department for Education attended a coalition meeting where they presented ongoing "
    "policy work relating to SEND Practitioner Standards and introduced the department’s new "
    "‘Partnerships for Inclusion of Neurodiversity in Schools’ (PINS) programme. Officials "
    "have taken on board the coalition’s feedback, and that of other stakeholders they have "
    "engaged with, in the development of products and guidance to support the delivery of "
    "the programmes. In addition to engagement at official level, the former Minister for "
    "Children, Families and Wellbeing met with the representatives from the coalition last "
    "year, and the minister looks forward to continuing these important discussions when he "
    "meets with members in the coming months. The department will continue to engage and "
    "work together with a range of stakeholders to discuss ways in which we can improve "
    "access to the specialist workforce for the many children and young people who need "
    "support.</p>"
)
SEED_QUESTION = (
    "To ask the Secretary of State for Education, what recent discussions her Department has "
    "had with the SEND in the Specialists coalition on the specialist workforce for children "
    "and young people with SEND; and what the outcome was of those discussions."
)

TABLE = yaml.safe_load((Path(__file__).parent / "data" / "queries.yaml").read_text("utf-8"))


def _person(value: dict[str, Any] | None) -> Person | None:
    return None if value is None else Person(value.get("id"), value["name"], value.get("party"))


def _meta(value: dict[str, Any]) -> Metadata:
    """A question's metadata, from the question's own fields (``QuestionBody``)."""
    people = {k: _person(value.get(k)) for k in ("asked_by", "answered_by")}
    fields = {k: v for k, v in value.items() if k != "kind"}
    body = QuestionBody(Status.ANSWERED, **{**fields, **people})
    return Metadata(facets=question_facets(body), kind=value.get("kind"))


@pytest.mark.parametrize(
    "case",
    TABLE["cases"],
    ids=[f"{c['query']}|{sorted(c['fields'].values())}" for c in TABLE["cases"]],
)
def test_query_table(case: dict[str, Any]) -> None:
    fields: dict[str, str] = case["fields"]
    document = Document(fields, _meta(case.get("meta", {})))
    hits = match_document(parse(case["query"], synonyms=TABLE["synonyms"]), document)
    if case["hits"] is None:
        assert hits is None
        return
    assert hits is not None
    found = [[h.field, fields.get(h.field, "")[h.start : h.end], h.term, h.via] for h in hits]
    # A case gives as many of (field, text, term, via) as it cares about.
    assert [f[: len(e)] for f, e in zip(found, case["hits"], strict=False)] == case["hits"]
    assert len(found) == len(case["hits"])


def test_hits_name_the_term_as_the_rule_wrote_it() -> None:
    fields = {"answer": "SEND-workforce and EHCP"}
    assert match(parse('"SEND  workforce" OR ehcp'), fields) == (
        Hit("answer", 0, 14, '"SEND  workforce"'),
        Hit("answer", 19, 23, "ehcp"),
    )


def test_a_document_answers_many_queries() -> None:
    doc = Document({"title": "SEND", "answer": "workforce planning"})
    assert match_document(parse("SEND workforce"), doc) == (
        Hit("answer", 0, 9, "workforce"),
        Hit("title", 0, 4, "SEND"),
    )
    assert match_document(parse("send NOT planning"), doc) is None
    assert match_document(parse("planning"), doc) == (Hit("answer", 10, 18, "planning"),)


def test_empty_and_missing_fields_match_nothing() -> None:
    assert match(parse("SEND"), {}) is None
    assert match(parse("SEND"), {"answer": ""}) is None


# --- words ---------------------------------------------------------------------------------


def test_words_keep_offsets_into_the_original_text() -> None:
    text = "SEND-workforce, nai\u0308ve  children’s 2023 Straße o'clock NHS's teachers'"
    found = words(text)
    assert [text[x.start : x.end] for x in found] == [
        "SEND",
        "workforce",
        "nai\u0308ve",
        "children’s",
        "2023",
        "Straße",
        "o",
        "clock",
        "NHS's",
        "teachers",
    ]
    assert [x.norm for x in found] == [
        "send",
        "workforce",
        "naive",
        "children",
        "2023",
        "strasse",
        "o",
        "clock",
        "nhs",
        "teachers",
    ]
    assert [x.caps for x in found] == [True] + [False] * 7 + [True, False]
    assert [x.possessive for x in found] == [False] * 3 + [True] + [False] * 4 + [True, False]


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("workforce", ("workforce", "workforces")),
        ("bus", ("bus", "buss", "buses")),
        ("church", ("church", "churchs", "churches")),
        ("policy", ("policy", "policys", "policies")),
        ("day", ("day", "days")),
    ],
)
def test_inflections_are_plurals(word: str, forms: tuple[str, ...]) -> None:
    assert inflections(word) == forms


@pytest.mark.parametrize(
    ("word", "acronym"),
    [
        ("SEND", True),
        ("NHS2", True),
        ("ÉCOLE", True),
        ("Send", False),
        ("send", False),
        ("A", False),
        ("2023", False),
        ("B2", False),
    ],
)
def test_acronyms_are_words_in_capitals_with_two_letters(word: str, acronym: bool) -> None:
    assert is_acronym(word) is acronym


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Naïve") == fold("NAIVE") == fold("nai\u0308ve") == "naive"


# --- the seed question ----------------------------------------------------------------------


def test_seed_answer_matches_send_workforce_where_published() -> None:
    answer = html_to_text(sanitise_html(SEED_ANSWER_HTML))
    fields = {"title": "Special Educational Needs", "question": SEED_QUESTION, "answer": answer}
    hits = match(parse('"SEND workforce"'), fields)
    assert hits is not None
    assert [(h.field, h.start) for h in hits] == [("answer", 251), ("answer", 385)]
    assert all(answer[h.start : h.end] == "SEND workforce" for h in hits)
    # the question has SEND and workforce, but not together
    assert match(parse('"SEND workforce"'), {"question": SEED_QUESTION}) is None
    assert match(parse("SEND workforce"), {"question": SEED_QUESTION}) is not None


def test_sending_guidance_is_not_send() -> None:
    fields = {"answer": "we will send the workforce guidance"}
    assert match(parse("SEND"), fields) is None
    assert match(parse('"SEND workforce"'), fields) is None
    assert match(parse("send workforce"), fields) is not None


# --- properties -----------------------------------------------------------------------------

text_words = st.lists(st.text(alphabet="abcdéf", min_size=1, max_size=3), min_size=1, max_size=10)
separators = st.text(alphabet=" \n,.-'’/—…()\"", min_size=1, max_size=4)


@st.composite
def phrase_and_words(draw: st.DrawFn) -> tuple[str, list[str]]:
    ws = draw(text_words)
    i = draw(st.integers(0, len(ws) - 1))
    j = draw(st.integers(i + 1, min(len(ws), i + 3)))
    query_words = ws[i:j] if draw(st.booleans()) else draw(text_words)[:3]
    return '"' + " ".join(query_words) + '"', ws


def spans(hits: tuple[Hit, ...] | None) -> list[tuple[str, int, int]] | None:
    return None if hits is None else [(h.field, h.start, h.end) for h in hits]


def joined(ws: list[str], seps: list[str]) -> str:
    return ws[0] + "".join(s + x for s, x in zip(seps, ws[1:], strict=False))


@given(phrase_and_words(), st.data())
def test_matching_ignores_spacing_and_punctuation(
    case: tuple[str, list[str]], data: st.DataObject
) -> None:
    query, ws = case
    seps = data.draw(st.lists(separators, min_size=len(ws) - 1, max_size=len(ws) - 1))
    plain, noisy = " ".join(ws), joined(ws, seps)
    q = parse(query)
    a, b = match(q, {"answer": plain}), match(q, {"answer": noisy})
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert len(a) == len(b)
        for hit in b:
            found = [x.norm for x in words(noisy[hit.start : hit.end])]
            assert found == [fold(x) for x in q.ast.words]  # type: ignore[union-attr]


@given(phrase_and_words(), st.data())
def test_matching_ignores_case_outside_acronyms(
    case: tuple[str, list[str]], data: st.DataObject
) -> None:
    query, ws = case
    recased = [data.draw(st.sampled_from([x, x.upper(), x.title()])) for x in ws]
    lower, mixed = " ".join(ws), " ".join(recased)
    assert (
        spans(match(parse(query), {"answer": lower}))
        == spans(match(parse(query), {"answer": mixed}))
        == spans(match(parse(query.title()), {"answer": mixed}))
    )


@given(phrase_and_words())
def test_an_acronym_never_matches_lower_case_text(case: tuple[str, list[str]]) -> None:
    query, ws = case
    shouted = parse(query.upper())
    found = match(shouted, {"answer": " ".join(ws)})
    if any(is_acronym(x) for x in shouted.ast.words):  # type: ignore[union-attr]
        assert found is None
    else:  # single letters are not acronyms: "A" is still "a"
        assert spans(found) == spans(match(parse(query), {"answer": " ".join(ws)}))


# --- rules over events ----------------------------------------------------------------------


def record(key: str, answer: str, source: str = "parliament") -> Record:
    return written_question(
        source=source,
        key=key,
        kind="written_question",
        title="Special Educational Needs",
        url=f"https://example.org/{key}",
        status=Status.ANSWERED,
        question=Text("<p>To ask</p>", "To ask"),
        answer=Text(f"<p>{answer}</p>", answer),
    )


def rule(rule_id: str, query: str, events: set[EventType], sources: set[str] | None = None) -> Rule:
    return Rule(
        rule_id, parse(query), frozenset(events), None if sources is None else frozenset(sources)
    )


def test_match_events_applies_rules_to_the_events_they_want() -> None:
    answered = Event(EventType.ANSWERED, record("1", "SEND workforce planning"))
    corrected = Event(EventType.CORRECTED, record("2", "the SEND workforce"))
    elsewhere = Event(EventType.ANSWERED, record("3", "SEND workforce", source="lords"))
    unrelated = Event(EventType.ANSWERED, record("4", "school meals"))
    rules = [
        rule("all", '"SEND workforce"', {EventType.ANSWERED, EventType.CORRECTED}),
        rule("answers-here", "workforce", {EventType.ANSWERED}, {"parliament"}),
        rule("needs", "needs", {EventType.ANSWERED}),
    ]
    found = match_events(rules, [answered, corrected, elsewhere, unrelated])
    assert [(m.rule_id, m.event.record.key) for m in found] == [
        ("all", "1"),
        ("answers-here", "1"),
        ("needs", "1"),
        ("all", "2"),
        ("all", "3"),
        ("needs", "3"),
        ("needs", "4"),
    ]
    assert found[0].hits == (Hit("answer", 0, 14, '"SEND workforce"'),)
    assert found[2].hits == (Hit("title", 20, 25, "needs"),)


def test_match_events_without_rules_or_events() -> None:
    event = Event(EventType.ANSWERED, record("1", "SEND"))
    assert match_events([], [event]) == []
    assert match_events([rule("r", "SEND", {EventType.ANSWERED})], []) == []
    assert match_events([rule("r", "SEND", {EventType.TABLED})], [event]) == []


# --- explanations -----------------------------------------------------------------------------


def _explained(query: str, fields: dict[str, str], meta: Metadata | None = None) -> str:
    hits = match_document(
        parse(query, synonyms={"SEND": ["special educational needs", "SEN"]}),
        Document(fields, meta),
    )
    assert hits is not None
    return explain(hits)


def test_explain_names_terms_fields_and_synonym_expansions() -> None:
    assert _explained("SEND NEAR workforce", {"answer": "SEND workforce"}) == (
        "matched: SEND NEAR workforce in the answer"
    )
    assert _explained(
        "~SEND workforce",
        {"question": "SEN and workforce", "answer": "special educational needs workforce"},
    ) == (
        'matched: ~SEND as "SEN" in the question; workforce in the question and answer; '
        '~SEND as "special educational needs" in the answer'
    )
    # A set's own name is one of its terms, and is named as the expansion that matched.
    assert _explained("~SEND NEAR/5 workforce", {"answer": "the SEND workforce"}) == (
        'matched: ~SEND NEAR/5 workforce as "SEND" in the answer; ~SEND NEAR/5 workforce '
        "in the answer"
    )
    assert _explained("heading:EHCP house:lords", {"title": "EHCP"}, _meta({"house": "Lords"})) == (
        "matched: EHCP in the heading; house:lords"
    )


def test_explain_reads_a_match() -> None:
    event = Event(EventType.ANSWERED, record("1", "the SEND workforce"))
    (found,) = match_events([rule("r", '"SEND workforce"', {EventType.ANSWERED})], [event])
    assert isinstance(found, Match)
    assert explain(found) == 'matched: "SEND workforce" in the answer'


def test_document_from_record_carries_metadata_for_filters() -> None:
    item = record("1", "SEND workforce")
    lords = revise(item, house="Lords", department_id=60, uin="HL1")
    document = Document.from_record(lords)
    assert match_document(parse("SEND house:lords department:60 uin:hl1"), document) is not None
    assert match_document(parse("SEND house:commons"), document) is None
    assert match_document(parse("heading:needs type:question"), document) is not None


def test_match_events_with_a_ruleset_keeps_rule_order_and_wanted_events() -> None:
    answered = Event(EventType.ANSWERED, record("1", "SEND workforce"))
    rules = RuleSet(
        [
            rule("b", "workforce", {EventType.ANSWERED}),
            rule("a", "SEND", {EventType.ANSWERED}),
            rule("c", "SEND", {EventType.TABLED}),
        ]
    )
    assert [m.rule_id for m in match_events(rules, [answered])] == ["b", "a"]


# --- properties of the newer constructs ---------------------------------------------------------


@given(phrase_and_words(), st.data())
def test_near_and_wildcards_ignore_spacing_punctuation_and_case(
    case: tuple[str, list[str]], data: st.DataObject
) -> None:
    _, ws = case
    first, second = data.draw(st.sampled_from(ws)), data.draw(st.sampled_from(ws))
    distance = data.draw(st.integers(0, 3))
    query = parse(f"{first} NEAR/{distance} {second[:2]}*" if len(second) > 1 else first)
    seps = data.draw(st.lists(separators, min_size=len(ws) - 1, max_size=len(ws) - 1))
    recased = [data.draw(st.sampled_from([x, x.upper(), x.title()])) for x in ws]
    plain, noisy = " ".join(ws), joined(recased, seps)
    a, b = match(query, {"answer": plain}), match(query, {"answer": noisy})
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert [fold(plain[h.start : h.end]) for h in a] == [
            fold(" ".join(x.norm for x in words(noisy[h.start : h.end]))) for h in b
        ]
