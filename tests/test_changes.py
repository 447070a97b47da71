"""Which words a correction changed, and the passages a reader is shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.changes import CONTEXT, MIN_SKIP, Change, Kind, Passage, changes, word_diff, words

ANSWER = (
    "The Special Educational Needs and Disabilities (SEND) and Alternative Provision "
    "Improvement Plan, published on 2 March 2023, set out that the Department for Education "
    "will work with the Department of Health and Social Care to take a joint approach to SEND "
    "workforce planning, and a steering group has now been established to oversee this work."
    "\n\n"
    "As part of the steering group for joint SEND workforce planning, officials are working "
    "closely with the SEND in the specialists coalition to seek their views. On the 14 November "
    "2023, officials from the Department for Education attended a coalition meeting where they "
    "presented ongoing policy work relating to SEND Practitioner Standards."
)


def marked(passage: Passage) -> str:
    """A passage as ``[-removed-]{+added+}`` text, for readable assertions."""
    out = ["…" if passage.opens_mid else ""]
    for n, piece in enumerate(passage.pieces):
        body = {
            Kind.SAME: piece.text,
            Kind.REMOVED: f"[-{piece.text}-]",
            Kind.ADDED: f"{{+{piece.text}+}}",
        }[piece.kind]
        out.append((piece.space if n else "") + body)
    out.append("…" if passage.closes_mid else "")
    return "".join(out)


def shown(change: Change | None) -> list[str]:
    assert change is not None
    return [marked(p) for p in change.passages]


# --- examples ------------------------------------------------------------------------------


def test_a_phrase_changed_in_a_long_answer_is_shown_with_a_few_words_either_side() -> None:
    new = ANSWER.replace(
        "a steering group has now been established", "a steering group was established in 2023"
    )
    assert shown(changes(ANSWER, new)) == [
        "…workforce planning, and a steering group [-has now been established-] "
        "{+was established in 2023+} to oversee this work."
    ]


def test_separate_changes_are_separate_passages_in_text_order() -> None:
    new = ANSWER.replace("2 March 2023", "2 March 2023 (CP 800)").replace(
        "14 November", "21 November"
    )
    assert shown(changes(ANSWER, new)) == [
        "…Plan, published on 2 March 2023 {+(CP 800)+}, set out that the Department for…",
        "…to seek their views. On the [-14-] {+21+} November 2023, officials from the Department…",
    ]


def test_changes_close_together_share_one_passage() -> None:
    new = ANSWER.replace("Health and Social Care", "Health").replace("joint approach", "approach")
    assert shown(changes(ANSWER, new)) == [
        "…work with the Department of Health [-and Social Care-] to take a [-joint-] approach to "
        "SEND workforce planning, and…"
    ]


def test_a_short_text_is_shown_whole() -> None:
    change = changes("There are 1,000 specialists.", "There are 10,000 specialists.")
    assert shown(change) == ["There are [-1,000-] {+10,000+} specialists."]
    assert change is not None
    assert change.whole


def test_a_rewrite_is_one_replacement_not_fragments_around_the_odd_common_word() -> None:
    change = changes("The cat sat on the mat.", "A dog lay under the big table, quietly.")
    assert shown(change) == [
        "[-The cat sat on the mat-] {+A dog lay under the big table, quietly+}."
    ]


def test_an_unchanged_word_between_two_changes_it_is_not_shorter_than_stays_visible() -> None:
    assert shown(changes("on 10 March 2023", "on 12 March 2024")) == [
        "on [-10-] {+12+} March [-2023-] {+2024+}"
    ]


def test_a_punctuation_change_marks_only_the_mark() -> None:
    assert shown(changes("We will, however, act.", "We will; however, act.")) == [
        "We will[-,-]{+;+} however, act."
    ]
    assert shown(changes("It was established.", "It was established in 2023.")) == [
        "It was established {+in 2023+}."
    ]


def test_whitespace_and_typography_are_not_a_change() -> None:
    assert changes(ANSWER, ANSWER) is None
    assert changes(ANSWER, " ".join(ANSWER.split())) is None
    assert (
        changes("the department’s “new” plan – 2023", 'the department\'s "new" plan - 2023') is None
    )
    assert changes("", "") is None


def test_context_stops_at_a_paragraph_break() -> None:
    old = "First paragraph ends here.\n\nSecond paragraph starts with the word old and goes on."
    new = old.replace("ends here", "ends there").replace("word old", "word new")
    assert shown(changes(old, new)) == [
        "First paragraph ends [-here-] {+there+}.\n\nSecond paragraph starts with the word "
        "[-old-] {+new+} and goes on."
    ]
    long = ANSWER.replace("this work.", "this work now.")
    # the passage ends with its paragraph, so no "…" after it, and the next paragraph is left out
    assert shown(changes(ANSWER, long)) == ["…been established to oversee this work {+now+}."]


def test_a_change_at_the_start_of_a_paragraph_takes_no_context_from_the_one_before() -> None:
    new = ANSWER.replace("As part of", "As a member of")
    assert shown(changes(ANSWER, new)) == [
        "As [-part-] {+a member+} of the steering group for joint…"
    ]


def test_an_added_paragraph_and_a_removed_one() -> None:
    added = ANSWER + "\n\nA new paragraph."
    assert shown(changes(ANSWER, added)) == ["{+A new paragraph.+}"]
    first, second = ANSWER.split("\n\n")
    assert shown(changes(ANSWER, second)) == [f"[-{first}-]"]


def test_fewer_than_min_skip_words_are_never_hidden() -> None:
    words_ = [f"w{n}" for n in range(CONTEXT + MIN_SKIP - 1)]
    old = " ".join(["start", *words_])
    change = changes(old, old.replace("start", "begin"))
    assert change is not None
    assert change.whole  # hiding three words would save nothing


# --- properties ----------------------------------------------------------------------------

VOCABULARY = ["the", "a", "SEND", "workforce", "1,000", "2023", "department’s", "plan"]
MARKS = [".", ",", ";", "(", ")", "–", "’"]
SPACES = [" ", " ", " ", "\n", "\n\n", "  \t"]


@st.composite
def prose(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.sampled_from(VOCABULARY + MARKS), max_size=60))
    out = []
    for token in tokens:
        out.append(
            draw(st.sampled_from(["", *SPACES]))
            if token in MARKS
            else draw(st.sampled_from(SPACES))
        )
        out.append(token)
    return "".join(out).strip()


def edited(draw: st.DrawFn, text: str) -> str:
    tokens = text.split(" ")
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(tokens)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        word = draw(st.sampled_from(VOCABULARY + MARKS + ["new", "words"]))
        if action == "insert" or not tokens[at:]:
            tokens.insert(at, word)
        elif action == "delete":
            del tokens[at]
        else:
            tokens[at] = word
    return " ".join(tokens)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    old = draw(prose())
    return old, edited(draw, old)


def sides(pieces: tuple[object, ...] | list[object], skip: Kind) -> list[str]:
    return [w for p in pieces for w in words(p.text) if p.kind is not skip]  # type: ignore[attr-defined]


@given(pairs())
def test_the_diff_spells_both_texts(pair: tuple[str, str]) -> None:
    old, new = pair
    pieces = word_diff(old, new)
    assert sides(pieces, skip=Kind.ADDED) == list(words(old))
    assert sides(pieces, skip=Kind.REMOVED) == list(words(new))


@given(pairs())
def test_passages_hold_every_change_in_order_and_only_changes(pair: tuple[str, str]) -> None:
    old, new = pair
    change = changes(old, new)
    assert (change is None) == (words(old) == words(new))
    if change is None:
        return
    everything = [p for p in word_diff(old, new) if p.kind is not Kind.SAME]
    shown_ = [p for passage in change.passages for p in passage.pieces if p.kind is not Kind.SAME]
    assert shown_ == everything
    for passage in change.passages:
        assert any(p.kind is not Kind.SAME for p in passage.pieces)
        first, last = passage.pieces[0], passage.pieces[-1]
        if passage.opens_mid:
            assert first.kind is Kind.SAME
            assert sum(w[0].isalnum() for w in words(first.text)) <= CONTEXT
        if passage.closes_mid:
            assert last.kind is Kind.SAME
            assert sum(w[0].isalnum() for w in words(last.text)) <= CONTEXT


@given(pairs())
def test_the_shown_new_words_are_the_new_text_when_nothing_is_left_out(
    pair: tuple[str, str],
) -> None:
    old, new = pair
    change = changes(old, new)
    if change is None or not change.whole:
        return
    assert sides(change.passages[0].pieces, skip=Kind.REMOVED) == list(words(new))
    assert sides(change.passages[0].pieces, skip=Kind.ADDED) == list(words(old))


@given(prose(), st.data())
def test_respacing_is_no_change(text: str, data: st.DataObject) -> None:
    respaced = "".join(data.draw(st.sampled_from(SPACES)) if ch.isspace() else ch for ch in text)
    assert changes(text, respaced) is None
    assert all(p.kind is Kind.SAME for p in word_diff(text, respaced))


def test_a_long_answer_corrected_in_one_place_is_diffed_without_stalling() -> None:
    # Two 40,000-word answers: aligning them word by word took 20-40 s and held the send.
    body = " ".join(f"w{i % 997} x{i}" for i in range(20_000))
    old = f"{body} the old ending."
    new = f"{body} the corrected ending."
    found = changes(old, new)
    assert found is not None
    [passage] = found.passages
    assert [(p.kind, p.text) for p in passage.pieces if p.kind is not Kind.SAME] == [
        (Kind.REMOVED, "old"),
        (Kind.ADDED, "corrected"),
    ]


def test_a_difference_too_long_to_align_is_shown_removed_and_added_whole() -> None:
    old = " ".join(f"a{i}" for i in range(25_000))
    new = " ".join(f"b{i}" for i in range(25_000))
    found = changes(f"Start. {old} End.", f"Start. {new} End.")
    assert found is not None
    kinds = [p.kind for passage in found.passages for p in passage.pieces]
    assert kinds.count(Kind.REMOVED) == 1
    assert kinds.count(Kind.ADDED) == 1
