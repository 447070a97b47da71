"""Hostile and broken text never stops a source or hangs a send.

Lone surrogates, control characters, markup nested 100,000 deep, unclosed formatting, enormous
attributes, malformed tags, entity chains and texts of many megabytes with thousands of hits:
each is scrubbed, flattened, cut or highlighted without raising, in linear time. The deadlines
below are generous bounds on what used to take minutes or hang, not benchmarks
(``benchmarks/highlight.py`` measures).
"""

from __future__ import annotations

import html as htmllib
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher import markup
from watcher.config import Cadence, Subscription
from watcher.kinds.questions import written_question
from watcher.model import Digest, DigestItem, Event, EventType, Hit, Status, Text
from watcher.render import Renderer
from watcher.sources.parliament import parse_question
from watcher.testing import load_fixtures
from watcher.text import (
    CUT_NOTE,
    MAX_HTML_CHARS,
    MAX_TEXT_CHARS,
    from_html,
    from_plain,
    highlight_html,
    highlight_text,
    html_to_text,
    sanitise_html,
    scrub,
)

T = TypeVar("T")
DEADLINE = 20.0  # seconds; each of these took minutes, or never finished, before


def finishes(fn: Callable[[], T], seconds: float = DEADLINE) -> T:
    """``fn()``, failing the test if it has not returned within ``seconds``."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the test below
            error.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    if error:
        raise error[0]
    return result[0]


def is_clean(value: str) -> bool:
    """Encodable as UTF-8 and free of control characters other than tab and line breaks."""
    value.encode("utf-8")
    return not any((ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F for c in value)


# --- scrub ---------------------------------------------------------------------------------


def test_scrub_replaces_lone_surrogates_and_keeps_what_a_pair_encodes() -> None:
    assert scrub("a\ud800b") == "a\ufffdb"
    assert scrub("\udfff") == "\ufffd"
    assert scrub("\udc00\ud800") == "\ufffd\ufffd"  # low before high is no pair
    assert scrub("smile \ud83d\ude00") == "smile \U0001f600"
    scrub("x\ud800" * 1000).encode("utf-8")


def test_scrub_drops_control_characters_but_keeps_tab_and_line_breaks() -> None:
    assert scrub("a\x00b\x01c\x08d\x1be\x7ff\x80g\x9fh") == "abcdefgh"
    assert scrub("line\tone\r\nline two\n") == "line\tone\r\nline two\n"


def test_scrub_turns_controls_that_separate_words_into_spaces() -> None:
    for control in "\x0b\x0c\x1c\x1d\x1e\x1f\x85":
        assert scrub(f"SEND{control}workforce") == "SEND workforce"


def test_scrub_leaves_ordinary_text_alone() -> None:
    ordinary = "Schools’ funding: £1.2bn — café\xa0naïve 日本 \U0001f600 <p>&amp;</p>"
    assert scrub(ordinary) == ordinary


# --- surrogates and controls through the text steps ----------------------------------------


def test_a_lone_surrogate_in_html_becomes_a_replacement_character() -> None:
    # json.loads turns the escape "\ud800" of a detail body into a lone surrogate.
    body = json.loads('{"answerText": "<p>Schools \\ud800 funding</p>"}')["answerText"]
    t = from_html(body)
    assert t.plain == "Schools \ufffd funding"
    assert "\ufffd" in t.html
    # What a record's fingerprint does with its texts:
    json.dumps({"html": t.html, "plain": t.plain}, ensure_ascii=False).encode()
    assert html_to_text(body) == "Schools \ufffd funding"
    assert "\ufffd" in sanitise_html(body)


def test_a_lone_surrogate_in_plain_text_becomes_a_replacement_character() -> None:
    t = from_plain("To ask about \udc00 SEND.\n\nSecond \ud800paragraph.")
    assert t.plain == "To ask about \ufffd SEND.\n\nSecond \ufffdparagraph."
    t.html.encode("utf-8")


def test_nul_and_other_control_characters_never_reach_a_text() -> None:
    t = from_html("<p>a\x00b\x01c\x7fd\x9be</p><p title='x\x00y'>&#1;&#0;f\x0bg</p>")
    assert t.plain == "abcde\n\n\ufffdf g"
    assert is_clean(t.html)
    assert is_clean(t.plain)
    assert html_to_text("a\x00b") == "ab"


def test_a_control_character_does_not_join_the_words_it_separates() -> None:
    assert from_html("<p>SEND\x85workforce</p>").plain == "SEND workforce"
    assert from_plain("SEND\x0cworkforce").plain == "SEND workforce"


# --- deep and unclosed markup --------------------------------------------------------------


@pytest.mark.parametrize("tag", ["div", "b", "blockquote", "span", "ul", "xyz"])
def test_markup_nested_100k_deep_is_sanitised_quickly_and_keeps_its_text(tag: str) -> None:
    deep = f"<{tag}>" * 100_000 + "deep text" + f"</{tag}>" * 100_000
    t = finishes(lambda: from_html(deep))
    assert t.plain == "deep text"
    assert t.html.count(f"<{tag}>") <= markup.MAX_DEPTH


def test_deep_markup_is_flattened_and_highlighted_without_recursion() -> None:
    deep = "<div><b>" * 100_000 + "deep text" + "</b></div>" * 100_000
    assert finishes(lambda: html_to_text(deep)) == "deep text"
    marked = finishes(lambda: highlight_html(deep, [(0, 4)]))
    assert "<mark>deep</mark> text" in marked


def test_unclosed_formatting_does_not_multiply_the_markup() -> None:
    # Every <b> differs, so the HTML5 parser re-opens all 3,000 in each of 3,000 paragraphs:
    # this was 63 MB of output after 8 s.
    hostile = "<p>" + "".join(f"<b id={n}>" for n in range(3000)) + "</p>" + "<p>x" * 3000
    clean = finishes(lambda: sanitise_html(hostile))
    assert len(clean) < 10 * len(hostile)
    assert html_to_text(clean) == "\n\n".join(["x"] * 3000)


def test_documents_people_write_are_not_defused() -> None:
    table = "<table>" + "<tr><td>1</td><td><b>2</b></td></tr>" * 2000 + "</table>"
    sloppy = "<p><b>Bold from here on" + "<p>a paragraph<li>an item<li>another" * 500
    nested = "<ul><li><div>" * 30 + "<b>deep</b>" + "</div></li></ul>" * 30
    unclosed = "<ul>" + "<li><ul><li><p><a href='https://x/'><em>deep" * 8
    for document in (table, sloppy, nested, unclosed):
        assert markup.defuse(document) == document


@pytest.mark.parametrize(
    "hostile",
    [
        '<a title="' + "<a " * 40_000,  # an unterminated quote: html.parser took minutes
        '<a b="' * 40_000,
        "<a " * 40_000,
        "<!--" * 40_000,
        "x<" * 40_000,
        "<![" * 40_000,  # html.parser raised AssertionError
        "</" * 40_000,
        "<?" * 40_000,
        "&#" * 40_000,
    ],
    ids=["quote", "attributes", "open-tags", "comments", "lt", "cdata", "end", "pi", "charref"],
)
def test_malformed_markup_is_read_in_linear_time(hostile: str) -> None:
    t = finishes(lambda: from_html(hostile))
    finishes(lambda: html_to_text(hostile))
    finishes(lambda: highlight_html(hostile, [(0, 5)]))
    assert is_clean(t.plain)


def test_angle_brackets_unfinished_tags_scripts_and_comments() -> None:
    assert html_to_text("a < b > c") == "a < b > c"
    assert html_to_text("x<") == "x<"
    assert html_to_text("see <b") == "see"  # a tag the input ends inside is dropped
    assert html_to_text("<p>a</p><script>var p = '<p>b</p>';</script><p>c</p>") == "a\n\nc"
    assert html_to_text("<p>a<!-- <p>b</p> -->c</p><style>p{}</style>") == "ac"


def test_entity_chains_decode_one_level_only() -> None:
    assert html_to_text("&amp;amp;amp;") == "&amp;amp;"
    chain = "<p>" + "&amp;amp;" * 100_000 + "</p>"
    t = finishes(lambda: from_html(chain))
    assert t.plain == "&amp;" * 100_000
    assert highlight_html("<p>AT&amp;T SEND</p>", [(5, 9)]) == "<p>AT&amp;T <mark>SEND</mark></p>"


def test_an_enormous_attribute_is_dropped_and_its_text_kept() -> None:
    huge = '<a href="https://example.org/' + "a" * 5_000_000 + '">link</a>'
    t = finishes(lambda: from_html(f"<p>{huge} <a href='https://example.org/ok'>ok</a></p>"))
    assert t.plain == "link ok"
    assert len(t.html) < 1000
    assert 'href="https://example.org/ok"' in t.html


# --- the size cap --------------------------------------------------------------------------


def words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


def assert_cut(t: Text, full_plain: str) -> None:
    assert t.plain.endswith("\n\n" + CUT_NOTE)
    assert t.html.endswith(f"<p>{htmllib.escape(CUT_NOTE, quote=False)}</p>")
    assert html_to_text(t.html) == t.plain
    kept = t.plain.removesuffix("\n\n" + CUT_NOTE)
    assert len(kept) <= MAX_TEXT_CHARS
    assert full_plain.startswith(kept)
    assert full_plain[len(kept)] in " \n"  # cut between words, not inside one


def test_a_text_over_the_cap_is_cut_between_words_with_a_note_in_both_forms() -> None:
    paragraphs = [f"<p>{words(200)}</p>" for _ in range(1000)]
    source = "".join(paragraphs)
    full = html_to_text(source)
    assert len(full) > MAX_TEXT_CHARS
    assert_cut(finishes(lambda: from_html(source)), full)


def test_a_cut_inside_markup_closes_what_is_open() -> None:
    source = f"<ul><li><b>{words(200_000)}</b> after</li></ul>"
    t = finishes(lambda: from_html(source))
    assert_cut(t, html_to_text(source))
    assert t.html.endswith(f"</b></li></ul><p>{htmllib.escape(CUT_NOTE, quote=False)}</p>")


def test_a_plain_text_over_the_cap_is_cut_the_same_way() -> None:
    plain = "\n\n".join(words(300) for _ in range(500))
    assert_cut(finishes(lambda: from_plain(plain)), plain)


def test_markup_beyond_its_own_cap_is_cut_with_the_note() -> None:
    source = "<p>start</p><!--" + "x" * MAX_HTML_CHARS + "--><p>tail</p>"
    assert finishes(lambda: from_html(source)).plain == "start\n\n" + CUT_NOTE


def test_a_text_within_the_cap_is_whole() -> None:
    source = "<p>The Department <b>will</b> take a joint approach.</p><p>Second.</p>"
    safe = sanitise_html(source)
    assert from_html(source) == Text(html=safe, plain=html_to_text(safe))
    assert from_plain("One.\n\nTwo\nlines.") == Text(
        html="<p>One.</p><p>Two<br>lines.</p>", plain="One.\n\nTwo\nlines."
    )


def test_from_html_and_from_plain_build_the_texts_parse_question_builds() -> None:
    for value in load_fixtures():
        r = parse_question(value, "wq")
        if (answer := r.text("answer")) is not None:
            assert from_html(value["answerText"]) == answer
        if (question := r.text("question")) is not None:
            assert from_plain(value["questionText"]) == question


# --- many hits in a long text --------------------------------------------------------------

PHRASE = "SEND workforce"


def long_answer() -> tuple[str, str, list[tuple[int, int]]]:
    """About 10 MB of plain text, a hit at the very start, at the very end, and every 200
    characters between: about 50,000 hits."""
    filler = " ".join(["funding for schools and <b>local</b> authorities"] * 9)
    paragraph = f"<p>{PHRASE} planning, {filler}, {PHRASE}</p>"
    html = paragraph * 25_000
    plain = html_to_text(html)
    spans, at = [], plain.find(PHRASE)
    while at >= 0:
        spans.append((at, at + len(PHRASE)))
        at = plain.find(PHRASE, at + 1)
    return html, plain, spans


def test_a_10mb_answer_with_50k_hits_is_highlighted_in_seconds() -> None:
    html, plain, spans = finishes(long_answer)
    assert len(plain) > 9_000_000
    assert len(spans) == 50_000
    marked = finishes(lambda: highlight_html(html, spans))
    assert marked.startswith(f"<p><mark>{PHRASE}</mark> planning, ")
    assert marked.endswith(f", <mark>{PHRASE}</mark></p>")
    assert marked.count("<mark>") == len(spans)
    assert html_to_text(marked) == plain
    text = finishes(lambda: highlight_text(plain, spans, "[[", "]]"))
    assert text.startswith(f"[[{PHRASE}]] planning")
    assert text.endswith(f", [[{PHRASE}]]")
    assert text.count("[[") == len(spans)


def test_a_send_renders_an_answer_of_10mb_with_50k_hits() -> None:
    html, plain, spans = finishes(long_answer)
    record = written_question(
        source="parliament",
        key="1",
        kind="written_question",
        title="Special Educational Needs: Staff",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/1",
        status=Status.ANSWERED,
        uin="1",
        answer=Text(html=html, plain=plain),
        date_tabled=date(2024, 1, 8),
        date_answered=date(2024, 1, 15),
    )
    hits = tuple(Hit("answer", s, e, PHRASE) for s, e in spans)
    digest = Digest(
        subscription_id="send-team",
        items=(DigestItem(Event(EventType.ANSWERED, record), ("send",), hits),),
        period_end=datetime(2024, 1, 16, 7, 30, tzinfo=UTC),
        cadence="daily 07:30",
    )
    sub = Subscription(
        id="send-team",
        rules=("send",),
        channel="mail",
        to=("alice@example.org",),
        digest=Cadence(kind="daily", at=time(7, 30)),
    )
    message = finishes(
        lambda: Renderer().render(
            digest,
            "email",
            sub,
            ZoneInfo("Europe/London"),
            idempotency_key="k",
            sender="W <w@example.org>",
        )
    )
    assert message.html.count(f"<mark>{PHRASE}</mark>") == len(spans)
    assert message.text.count(f"[[{PHRASE}]]") == len(spans)


# --- properties ----------------------------------------------------------------------------

PIECES = [
    "<p>",
    "</p>",
    "<b>",
    "</b>",
    "<i>",
    "<div>",
    "</div>",
    "<br>",
    "<li>",
    "<td>",
    "<table>",
    "<a href='https://example.org/?a=1&amp;b=2'>",
    "</a>",
    "<script>",
    "</script>",
    "<!--",
    "-->",
    "<",
    ">",
    '"',
    "&amp;",
    "&nbsp;",
    "&#1;",
    "&#xd800;",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "\x00",
    "\x0b",
    "\x85",
    "\x9f",
    " ",
    "  ",
    "\n",
    "\t",
    "\xa0",
    "\u2003",
    "SEND",
    "workforce",
    "café",
]
html_like = st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(html_like)
def test_any_string_makes_a_clean_text_that_flattens_to_its_own_plain_text(value: str) -> None:
    t = from_html(value)
    assert is_clean(t.html)
    assert is_clean(t.plain)
    assert html_to_text(t.html) == t.plain
    assert is_clean(from_plain(value).html)
    assert is_clean(html_to_text(value))


def definition(html: str, spans: list[tuple[int, int]]) -> str:
    """What ``highlight_html`` means, character by character: a character is marked with the
    first of the sorted spans that covers it; whitespace with the span of the characters on
    both sides of it in the same text run, when they share one."""
    wanted = sorted(spans)
    if not wanted:
        return html

    def covering(pos: int) -> int:
        return next((n for n, (s, e) in enumerate(wanted, 1) if s <= pos < e), 0)

    nodes: list[markup.Node] = []
    markup.walk(html, nodes)
    out: list[str] = []
    for node in nodes:
        if node.kind != markup.TEXT:
            out.append(node.raw)
            continue
        offsets: list[int | None] = []
        k, gap = node.at, False
        for ch in node.raw:
            if ch.isspace():
                offsets.append(None)
                gap = bool(offsets) and any(o is not None for o in offsets)
                continue
            k += gap
            offsets.append(k)
            k, gap = k + 1, False
        marks = [0 if o is None else covering(o) for o in offsets]
        for i, o in enumerate(offsets):
            if o is None:
                left, right = range(i - 1, -1, -1), range(i + 1, len(marks))
                before = next((marks[j] for j in left if offsets[j] is not None), 0)
                after = next((marks[j] for j in right if offsets[j] is not None), 0)
                marks[i] = before if before == after else 0
        i = 0
        while i < len(node.raw):
            j = i
            while j < len(node.raw) and marks[j] == marks[i]:
                j += 1
            chunk = htmllib.escape(node.raw[i:j], quote=False)
            out.append(f"<mark>{chunk}</mark>" if marks[i] else chunk)
            i = j
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(html_like, st.data())
def test_highlighting_marks_what_the_definition_says(value: str, data: st.DataObject) -> None:
    html = sanitise_html(value)
    plain = html_to_text(html)
    bound = st.integers(-2, len(plain) + 2)
    spans = data.draw(st.lists(st.tuples(bound, bound), max_size=8))
    marked = highlight_html(html, spans)
    assert marked == definition(html, spans)
    assert html_to_text(marked) == plain
