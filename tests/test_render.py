from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watcher.config import Cadence, Subscription
from watcher.errors import ConfigError
from watcher.kinds.questions import revise, written_question
from watcher.model import (
    Attachment,
    Digest,
    DigestItem,
    Event,
    EventType,
    GroupedQuestion,
    Hit,
    Message,
    Person,
    Record,
    Status,
    Text,
)
from watcher.render import Renderer
from watcher.text import html_to_text

LONDON = ZoneInfo("Europe/London")
SENDER = "Parliament Watcher <watcher@example.org>"
ANSWER_HTML = (
    "<p>The Department will take a joint approach to SEND workforce planning.</p>"
    "<p>A steering group has been established.</p>"
)
SUB = Subscription(
    id="send-team",
    rules=("send-workforce", "ehcp"),
    channel="mail",
    to=("alice@example.org", "bob@example.org"),
    digest=Cadence(kind="daily", at=time(7, 30)),
)


def text(html: str) -> Text:
    return Text(html=html, plain=html_to_text(html))


def record(**changes: object) -> Record:
    base = written_question(
        source="parliament",
        key="1679416",
        kind="written_question",
        title="Special Educational Needs",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602",
        status=Status.ANSWERED,
        house="Commons",
        uin="8602",
        department="Department for Education",
        department_id=60,
        asked_by=Person(4001, "Jane Member", "Labour", "Bristol North"),
        answered_by=Person(5001, "David Johnston", "Conservative", "Wantage"),
        question=text(
            "<p>To ask the Secretary of State for Education, what discussions she "
            "has had on the SEND workforce.</p>"
        ),
        answer=text(ANSWER_HTML),
        date_tabled=date(2024, 1, 8),
        date_answered=date(2024, 1, 15),
    )
    return revise(base, **changes)


def hit(r: Record, field: str, phrase: str) -> Hit:
    start = r.fields()[field].index(phrase)
    return Hit(field, start, start + len(phrase), phrase)


def one(event: Event, *hits: Hit, rules: tuple[str, ...] = ("send-workforce",)) -> Digest:
    return Digest(
        subscription_id=SUB.id,
        items=(DigestItem(event, rules, tuple(hits)),),
        period_end=datetime(2024, 1, 16, 7, 30, tzinfo=UTC),
        cadence="daily 07:30",
    )


def render(d: Digest, renderer: Renderer | None = None, key: str | None = "k123") -> Message:
    return (renderer or Renderer()).render(
        d, "email", SUB, LONDON, idempotency_key=key, sender=SENDER
    )


def answered() -> Message:
    r = record()
    return render(one(Event(EventType.ANSWERED, r), hit(r, "answer", "SEND workforce")))


def test_html_highlights_the_match_and_shows_who_what_where() -> None:
    html = answered().html
    assert "<mark>SEND workforce</mark>" in html
    assert (
        'href="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602"'
    ) in html
    assert "Jane Member (Labour, Bristol North)" in html
    assert "David Johnston (Conservative, Wantage)" in html
    assert "Department for Education" in html
    assert "House of Commons" in html
    assert "Matched: send-workforce" in html
    assert "Tabled: 8 January 2024" in html
    assert "Answered: 15 January 2024" in html
    assert "A steering group has been established." in html
    assert "Open Parliament Licence v3.0" in html
    # only the matched words are marked, not the question's "SEND workforce"
    assert html.count("<mark>") == 1


def test_text_part_marks_the_match_with_double_brackets() -> None:
    message = answered()
    assert "[[SEND workforce]]" in message.text
    assert "Jane Member (Labour, Bristol North)" in message.text
    assert "Matched: send-workforce" in message.text
    assert "15 January 2024" in message.text
    assert (
        "Contains Parliamentary information licensed under the Open Parliament Licence v3.0."
        in message.text
    )
    assert "<p>" not in message.text


def test_hits_in_heading_and_question_are_highlighted_too() -> None:
    r = record(title="SEND & workforce")
    d = one(
        Event(EventType.ANSWERED, r),
        hit(r, "title", "workforce"),
        hit(r, "question", "discussions"),
    )
    message = render(d)
    assert "SEND &amp; <mark>workforce</mark>" in message.html
    assert "<mark>discussions</mark>" in message.html
    assert "SEND & [[workforce]]" in message.text


def test_subject_names_a_single_item() -> None:
    assert answered().subject == "[watcher] 1 new answer: Special Educational Needs"


def test_subject_counts_several_items_and_names_the_rules() -> None:
    items = tuple(
        DigestItem(Event(EventType.ANSWERED, record(key=str(n))), rules, ())
        for n, rules in enumerate([("send-workforce",), ("send-workforce", "ehcp"), ("ehcp",)])
    )
    d = dataclasses.replace(one(Event(EventType.ANSWERED, record())), items=items)
    assert render(d).subject == "[watcher] 3 new answers for send-workforce, ehcp"
    mixed = (*items, DigestItem(Event(EventType.CORRECTED, record(key="9")), ("ehcp",), ()))
    assert (
        render(dataclasses.replace(d, items=mixed)).subject
        == "[watcher] 4 updates for send-workforce, ehcp"
    )


def test_message_is_identified_deterministically() -> None:
    first, again = answered(), answered()
    assert first == again
    assert first.idempotency_key == "k123"
    assert first.headers["Message-ID"] == "<k123@watcher>"
    assert first.headers["Auto-Submitted"] == "auto-generated"


def test_without_a_key_one_is_derived_from_the_digest() -> None:
    r = record()
    d = one(Event(EventType.ANSWERED, r))
    key = render(d, key=None).idempotency_key
    assert key == render(d, key=None).idempotency_key
    other = one(Event(EventType.ANSWERED, record(key="other")))
    assert key != render(other, key=None).idempotency_key
    assert render(d, key=None).headers["Message-ID"] == f"<{key}@watcher>"


def corrected(**changes: object) -> Record:
    return record(
        is_correction=True,
        date_corrected=date(2024, 2, 1),
        corrected_by=Person(5001, "David Johnston", "Conservative", "Wantage"),
        **changes,
    )


def test_correction_marks_the_changed_words_then_shows_both_answers_in_full() -> None:
    before = record(answer=text("<p>There are 1,000 specialists.</p>"))
    after = corrected(answer=text("<p>There are 10,000 specialists.</p>"))
    message = render(one(Event(EventType.CORRECTED, after, previous=before)))

    html = message.html
    assert re.search(
        r'There are <del style="[^"]*line-through[^"]*">1,000</del> '
        r'<ins style="[^"]*underline[^"]*">10,000</ins> specialists\.',
        html,
    )
    # what changed, then the corrected answer in full, then the old one in full
    assert (
        html.index("What changed in the answer")
        < html.index("<p>There are 10,000 specialists.</p>")
        < html.index("Answer before the correction")
        < html.index("<p>There are 1,000 specialists.</p>")
    )
    assert "Corrected on 1 February 2024 by David Johnston" in html
    assert "what changed is shown first" in html

    text_ = message.text
    assert "In corrected answers, the words that changed are marked [-removed words-]" in text_
    assert "What changed in the answer:\nThere are [-1,000-] {+10,000+} specialists." in text_
    assert (
        text_.index("[-1,000-]")
        < text_.index("Corrected answer by David Johnston")
        < text_.index("Answer before the correction:\nThere are 1,000 specialists.")
    )
    assert message.subject == "[watcher] 1 corrected answer: Special Educational Needs"


def test_the_change_does_not_disturb_the_match_highlights_of_the_corrected_answer() -> None:
    before = record()
    after = corrected(answer=text(ANSWER_HTML.replace("has been", "was")))
    message = render(
        one(Event(EventType.CORRECTED, after, previous=before), hit(after, "answer", "SEND"))
    )
    assert "joint approach to <mark>SEND</mark> workforce planning." in message.html
    assert "joint approach to [[SEND]] workforce planning." in message.text
    assert "A steering group [-has been-] {+was+} established." in message.text
    # the old answer is shown as it was, without highlights
    assert "A steering group has been established." in message.text


def test_correction_without_a_stored_previous_version_uses_the_sources_original() -> None:
    after = corrected(answer=text("<p>New figure.</p>"), original_answer=text("<p>Old figure.</p>"))
    message = render(one(Event(EventType.CORRECTED, after)))
    assert "Old figure." in message.html
    assert "New figure." in message.html
    assert "[-Old-] {+New+} figure." in message.text


def test_a_stored_version_with_the_corrected_words_already_falls_back_to_the_original() -> None:
    # The words changed one poll, the correction flag came the next: the stored version already
    # has the new words, so the change is taken from the source's original answer.
    new = text("<p>New figure.</p>")
    after = corrected(answer=new, original_answer=text("<p>Old figure.</p>"))
    message = render(one(Event(EventType.CORRECTED, after, previous=record(answer=new))))
    assert "[-Old-] {+New+} figure." in message.text
    assert "Answer before the correction:\nOld figure." in message.text


def test_a_correction_whose_words_did_not_change_says_so() -> None:
    before = record(answer=text("<p>There are <b>1,000</b> specialists.</p>"))
    after = corrected(answer=text("<p>There are 1,000 specialists.</p>"))
    message = render(one(Event(EventType.CORRECTED, after, previous=before)))
    assert "the words of the answer are unchanged" in message.text
    assert "What changed" not in message.text
    assert "What changed" not in message.html
    assert "[-removed words-]" not in message.text  # no key for marks that are not used
    assert "Answer before the correction" in message.text


def test_a_correction_with_no_earlier_answer_says_what_changed_cannot_be_shown() -> None:
    message = render(one(Event(EventType.CORRECTED, corrected())))
    assert (
        "Corrected on 1 February 2024 by David Johnston (Conservative, Wantage): the answer "
        "before the correction is not available, so what changed cannot be shown."
    ) in message.text
    assert "What changed" not in message.html
    assert "Answer before the correction" not in message.text


def test_hostile_text_in_a_change_is_escaped() -> None:
    before = record(answer=text("<p>Safe &lt;b&gt;text&lt;/b&gt;.</p>"))
    after = corrected(answer=text("<p>Safe &lt;script&gt;alert(1)&lt;/script&gt; text.</p>"))
    message = render(one(Event(EventType.CORRECTED, after, previous=before)))
    assert "<script>" not in message.html
    assert "<b>" not in message.html
    assert "Safe &lt;<del " in message.html
    assert re.search(r"<del [^>]*>b&gt;text&lt;/b&gt;</del>", message.html)
    assert re.search(r"<ins [^>]*>script&gt;alert\(1\)&lt;/script&gt; text</ins>", message.html)


def test_the_change_key_is_only_in_digests_with_a_change() -> None:
    assert "[-removed words-]" not in answered().text
    assert "<del" not in answered().html


def test_user_templates_can_use_the_change(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text(
        "{% for item in items %}{{ item.change_text }}{% endfor %}"
    )
    (tmp_path / "digest.html.j2").write_text(
        "{% for item in items %}{{ item.change_html }}"
        "{% for p in item.change.passages %}|{{ p.pieces|length }}{% endfor %}{% endfor %}"
    )
    before = record(answer=text("<p>There are 1,000 specialists.</p>"))
    after = corrected(answer=text("<p>There are 10,000 specialists.</p>"))
    message = render(
        one(Event(EventType.CORRECTED, after, previous=before)), Renderer(str(tmp_path))
    )
    assert message.text == "There are [-1,000-] {+10,000+} specialists."
    # change_html is markup, not escaped a second time
    assert message.html.startswith('<p style="margin:0 0 8px 0;">There are <del style=')
    assert message.html.endswith("</p>|4")  # same, removed, added, same


def test_holding_answer_and_its_replacement_are_flagged() -> None:
    holding = record(
        status=Status.HOLDING,
        date_holding=date(2024, 1, 12),
        answer=text("<p>I will reply as soon as possible.</p>"),
    )
    message = render(one(Event(EventType.HOLDING, holding)))
    assert "Holding answer: the department has promised a full answer later." in message.html
    assert "Holding answer: 12 January 2024" in message.html
    assert "Holding answer:" in message.text

    full = record(date_holding=date(2024, 1, 12))
    message = render(one(Event(EventType.ANSWERED, full, previous=holding, replaces_holding=True)))
    assert "this replaces the holding answer of 12 January 2024" in message.html
    assert "promised a full answer later" not in message.html
    assert "this replaces the holding answer" in message.text


def test_withdrawn_question_is_flagged() -> None:
    withdrawn = record(status=Status.WITHDRAWN, answer=None, answered_by=None, date_answered=None)
    message = render(one(Event(EventType.WITHDRAWN, withdrawn)))
    assert "Withdrawn: this question has been withdrawn." in message.html
    assert "Withdrawn: this question has been withdrawn." in message.text
    assert message.subject == "[watcher] 1 withdrawn question: Special Educational Needs"


def test_grouped_questions_and_attachments_are_listed() -> None:
    r = record(
        grouped=(GroupedQuestion("8603", date(2024, 1, 8)),),
        attachments=(Attachment("https://assets.parliament.uk/a.pdf", "Figures 2024"),),
    )
    message = render(one(Event(EventType.ANSWERED, r)))
    assert "UIN 8603 (tabled 8 January 2024)" in message.html
    assert '<a href="https://assets.parliament.uk/a.pdf"' in message.html
    assert "Figures 2024" in message.html
    assert "Figures 2024 <https://assets.parliament.uk/a.pdf>" in message.text


def test_hostile_source_strings_are_escaped() -> None:
    script = "<script>alert(1)</script>"
    r = record(
        title=f"Needs {script}",
        asked_by=Person(1, 'Eve"><img src=x onerror=alert(1)>', script, None),
        department=script,
        url="javascript:alert(1)",
        attachments=(Attachment("javascript:alert(2)", script),),
    )
    message = render(one(Event(EventType.ANSWERED, r), hit(r, "title", "Needs")))
    assert "<script>" not in message.html
    assert "<img" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "javascript:" not in message.html
    assert "<mark>Needs</mark> &lt;script&gt;" in message.html


def test_header_injection_in_a_heading_yields_a_single_line_subject() -> None:
    r = record(title="Needs\r\nBcc: victim@example.org\nX-Evil: 1")
    message = render(one(Event(EventType.ANSWERED, r)))
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert message.subject == "[watcher] 1 new answer: Needs Bcc: victim@example.org X-Evil: 1"
    for value in message.headers.values():
        assert "\r" not in value
        assert "\n" not in value


def test_a_users_template_folder_overrides_by_name(tmp_path: Path) -> None:
    (tmp_path / "subject.txt.j2").write_text(
        "Digest for {{ subscription.id }}: {{ items|length }} {{ items[0].record.title }}"
    )
    message = render(one(Event(EventType.ANSWERED, record())), Renderer(str(tmp_path)))
    assert message.subject == "Digest for send-team: 1 Special Educational Needs"
    # the templates it does not override are still the built-in ones
    assert "Open Parliament Licence v3.0" in message.html


def test_user_html_templates_autoescape(tmp_path: Path) -> None:
    (tmp_path / "digest.html.j2").write_text("<h1>{{ items[0].record.title }}</h1>")
    r = record(title="<b>bold</b>")
    message = render(one(Event(EventType.ANSWERED, r)), Renderer(str(tmp_path)))
    assert message.html == "<h1>&lt;b&gt;bold&lt;/b&gt;</h1>"


def test_a_broken_user_template_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("{% for x in %}")
    renderer = Renderer(str(tmp_path))
    with pytest.raises(ConfigError, match=r"digest\.txt\.j2"):
        renderer.check()
    (tmp_path / "digest.txt.j2").write_text("{{ no_such_thing.attribute }}")
    with pytest.raises(ConfigError, match=r"digest\.txt\.j2.*no_such_thing"):
        render(one(Event(EventType.ANSWERED, record())), Renderer(str(tmp_path)))


def test_the_built_in_templates_load() -> None:
    Renderer().check()
