"""The chat formats (slack, teams, discord, apprise) as their peers receive them: golden bodies
of a small digest; a long digest kept within every limit the peer enforces, counted as the
peer counts, with every item exactly once and in order; an item too long for any message cut
with a link to the whole of it; hostile text made harmless; notes; user templates.

The limit checks below count on their own (they do not call the formats' own measures), so a
mistake in a format's counting fails here. Golden files: see ``test_render_golden`` for how
to rewrite them after a deliberate change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from digests import (
    HOSTILE,
    QUESTION_URL,
    SUB,
    bodies,
    digest,
    event_of,
    every_kind,
    hostile,
    item,
    large,
    long_text,
    question,
    render,
    renderer,
    small,
    together,
)
from test_render_golden import GOLDEN, check_golden

from watcher.errors import ConfigError
from watcher.incidents import Kind, Notice
from watcher.model import Event, EventType, Message
from watcher.render import FORMATS, TEMPLATES
from watcher.render.chat import Dialect, cut
from watcher.render.notices import notice_message

CHAT = ("slack", "teams", "discord", "apprise")


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


# --- what each peer accepts, counted as the peer counts --------------------------------------


def slack_ok(raw: str) -> None:
    body = json.loads(raw)
    blocks = body["blocks"]
    assert len(blocks) <= 50
    texts: list[tuple[str, str]] = []  # (block type, text) of every text object

    def walk(block_type: str, value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") in ("plain_text", "mrkdwn"):
                texts.append((block_type, value["text"]))
            for v in value.values():
                walk(block_type, v)
        elif isinstance(value, list):
            for v in value:
                walk(block_type, v)

    for block in blocks:
        walk(block["type"], block)
    assert sum(utf16(t) for _, t in texts) <= 12_000  # Slack refuses about 13,000
    for block_type, t in texts:
        assert t, "Slack refuses an empty text"
        assert utf16(t) <= (150 if block_type == "header" else 3000), (block_type, t[:80])
    assert blocks[0]["type"] == "header"
    assert body["text"]


def discord_ok(raw: str) -> None:
    body = json.loads(raw)
    embeds = body.get("embeds", [])
    assert len(embeds) <= 10
    total = 0
    for e in embeds:
        title, description = e.get("title", ""), e.get("description", "")
        assert utf16(title) <= 256
        assert utf16(description) <= 4096
        total += utf16(title) + utf16(description)
        total += utf16(e.get("footer", {}).get("text", ""))
        total += utf16(e.get("author", {}).get("name", ""))
        total += sum(utf16(f["name"]) + utf16(f["value"]) for f in e.get("fields", []))
    assert total <= 6000
    assert utf16(body.get("content", "")) <= 2000
    assert body["allowed_mentions"] == {"parse": []}
    assert embeds or body.get("content")


def teams_ok(raw: str) -> None:
    assert len(raw.encode("utf-8")) <= 27_000  # Teams refuses about 28 KB
    body = json.loads(raw)
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "TextBlock":
                assert value["wrap"] is True
            if value.get("type") == "Action.OpenUrl":
                assert value["url"].startswith("https://")
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(card["body"])


def apprise_ok(raw: str) -> None:
    body = json.loads(raw)
    assert set(body) == {"title", "body", "format"}
    assert body["format"] == "markdown"
    assert body["title"]
    assert len(body["body"].encode("utf-8")) <= 3400  # ntfy and Telegram stop at 4,096


PEER_OK: dict[str, Callable[[str], None]] = {
    "slack": slack_ok,
    "teams": teams_ok,
    "discord": discord_ok,
    "apprise": apprise_ok,
}


def valid(fmt: str, message: Message) -> None:
    assert message.bodies
    for raw in message.bodies:
        raw.encode("utf-8")  # no lone surrogate
        PEER_OK[fmt](raw)


def subject_of(fmt: str, body: Any) -> str:
    if fmt == "slack":
        return str(body["blocks"][0]["text"]["text"])
    if fmt == "teams":
        return str(body["attachments"][0]["content"]["body"][0]["text"])
    if fmt == "discord":
        return str(body["content"].split("\n")[0])
    return str(body["title"])


# --- golden bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", CHAT)
def test_a_small_digest_matches_the_golden_file(fmt: str) -> None:
    message = render(small(), fmt)
    check_golden(
        json.dumps(bodies(message), indent=2, ensure_ascii=False) + "\n", GOLDEN / f"{fmt}.json"
    )
    valid(fmt, message)
    [body] = message.bodies
    for n in (1, 2):
        assert f"{QUESTION_URL}{9000 + n}" in body  # every item links to its official page
    assert "https://www.gov.uk/government/news/send-workforce" in body
    assert "Open Government Licence" in body
    assert "Open Parliament Licence" in body
    assert message.subject == "[watcher] 3 updates for send-workforce"
    assert not message.text
    assert not message.html


@pytest.mark.parametrize(
    ("fmt", "removed", "added"),
    [
        ("slack", "~has now been established~", "*was established in 2023*"),
        ("discord", "~~has now been established~~", "**was established in 2023**"),
        ("teams", "[-has now been established-]", "{+was established in 2023+}"),
        ("apprise", "[-has now been established-]", "{+was established in 2023+}"),
    ],
)
def test_a_correction_shows_the_changed_words_and_hits_are_emphasised(
    fmt: str, removed: str, added: str
) -> None:
    [body] = render(small(), fmt).bodies
    text = json.loads(body)
    flat = json.dumps(text, ensure_ascii=False)
    assert f"steering group {removed} {added} to oversee" in flat
    assert "Corrected on 22 January 2024 by David Johnston (Conservative, Wantage)." in flat
    bold = "*SEND workforce*" if fmt == "slack" else "**SEND workforce**"
    assert bold in flat


@pytest.mark.parametrize("fmt", CHAT)
def test_each_body_carries_the_digests_subject(fmt: str) -> None:
    message = render(large(60), fmt)
    assert len(message.bodies) > 1
    for body in bodies(message):
        shown = subject_of(fmt, body).replace("\\", "").strip("*")
        assert shown == message.subject == "[watcher] 60 new answers for send-workforce"


# --- long digests ----------------------------------------------------------------------------

LABEL = re.compile(r"[Ii]tems? (\d+)(?:–(\d+))?\W+of 120|\"(\d+)(?:–(\d+))? of 120\"")


def numbers_in(raw: str) -> list[int]:
    return [n for n in range(1, 121) if f"{QUESTION_URL}{9000 + n}" in raw]


@pytest.mark.parametrize("fmt", CHAT)
def test_a_long_digest_is_several_messages_each_within_the_limits_every_item_once_in_order(
    fmt: str,
) -> None:
    message = render(large(120), fmt)
    valid(fmt, message)
    assert len(message.bodies) > 1
    seen: list[int] = []
    for raw in message.bodies:
        found = numbers_in(raw)
        assert found, "an empty part"
        assert found == list(range(found[0], found[-1] + 1))
        seen += found
        # Labelled with exactly the items it holds.
        m = LABEL.search(raw)
        assert m is not None, raw[:300]
        first, last = (g for g in (m.group(1) or m.group(3), m.group(2) or m.group(4)))
        assert (int(first), int(last or first)) == (found[0], found[-1])
    assert seen == list(range(1, 121))


@pytest.mark.parametrize("fmt", CHAT)
def test_a_digest_that_fits_one_message_is_not_labelled_as_a_part(fmt: str) -> None:
    [raw] = render(small(), fmt).bodies
    assert " of 3" not in raw


@pytest.mark.parametrize("fmt", CHAT)
def test_an_item_too_long_for_any_message_is_cut_with_a_link_to_all_of_it(
    fmt: str, tmp_path: Path
) -> None:
    # A user's template that shows the whole answer, and an answer of 200,000 characters.
    (tmp_path / fmt).mkdir()
    (tmp_path / fmt / "item.md.j2").write_text(
        f"{{{{ item.record.title|{fmt} }}}}\n{{{{ item.answer_text|{fmt}_marked }}}}\n"
    )
    huge = question(1, long_text(200_000))
    after = question(2, "<p>The SEND workforce.</p>")
    message = render(
        digest(item(Event(EventType.ANSWERED, huge)), item(Event(EventType.ANSWERED, after))),
        fmt,
        renderer(tmp_path),
    )
    valid(fmt, message)
    first = message.bodies[0]
    assert "Read the full item on the Parliament website" in first
    assert f"{QUESTION_URL}9001" in first
    assert "word0 word1 word2" in first  # cut, not dropped: it starts as the answer does
    assert "word20000 " not in first
    assert any("Workforce 2" in b for b in message.bodies)


# --- hostile text ----------------------------------------------------------------------------


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def mrkdwn_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "mrkdwn" else []
        return own + [t for v in value.values() for t in mrkdwn_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in mrkdwn_texts(v)]
    return []


@pytest.mark.parametrize("fmt", CHAT)
def test_hostile_text_cannot_ping_format_or_link(fmt: str) -> None:
    message = render(hostile(), fmt)
    valid(fmt, message)
    [raw] = message.bodies
    texts = strings(json.loads(raw))
    assert "\ufffd" in raw  # the lone surrogate, replaced
    # A source's javascript: address is never a link, only text.
    assert "<javascript:" not in raw
    joined = "\n".join(texts)
    if fmt == "slack":
        # In mrkdwn (not the header's plain text, which Slack shows as written) the only
        # <...> left are our links: a mention or a ping cannot be spelt without <.
        body = json.loads(raw)
        joined = "\n".join([body["text"], *mrkdwn_texts(body["blocks"])])
        assert len(mrkdwn_texts(body["blocks"])) == 3  # the header line, the item, the licence
        for m in re.finditer(r"<([^>]*)>", joined):
            assert m.group(1).startswith("https://"), m.group()
            assert m.group(1).count("|") == 1, m.group()  # the label has no |
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;" in joined
        assert "&lt;@U999&gt;  Eve &gt; *" in joined or "&lt;@U999&gt; | Eve &gt;" in joined
        return
    if fmt == "apprise":
        # The title is plain text to Apprise, but some services put it into the message.
        title = json.loads(raw)["title"]
        assert "@everyone" not in title
        assert "@here" not in title
        texts.remove(title)
        joined = "\n".join(texts)
    # The Markdown dialects: every special character of the source's is escaped.
    assert not re.search(r"(?<![\\*])\*bold\*", joined)
    assert not re.search(r"(?<!\\)\]\(javascript:", joined)
    assert not re.search(r"(?<!\\)\[click(?<!\\)\]\(", joined)
    assert not re.search(r"(?<!\\)\[evil(?<!\\)\]\(", joined)
    if fmt == "discord":
        assert json.loads(raw)["allowed_mentions"] == {"parse": []}
        assert not re.search(r"(?<!\\)@(everyone|here)", joined)
        assert not re.search(r"(?<!\\)<[@!#]", joined)
    if fmt == "apprise":
        assert "@everyone" not in joined
        assert "&lt;!channel&gt;" in joined


def test_the_hostile_title_is_what_the_digest_tested() -> None:
    # The checks above only mean something if the title holds what they look for.
    for needle in ("<!channel>", "<@U123>", "@everyone", "*bold*", "[click](", "|", ">", "\ud800"):
        assert needle in HOSTILE


# --- notes -----------------------------------------------------------------------------------


def notes() -> list[Message]:
    test = renderer().test_message(SUB, "test-key", datetime(2024, 1, 22, 9, tzinfo=UTC))
    notice = notice_message(
        Notice(
            source="written-questions",
            kind=Kind.FAILING,
            opened=True,
            since=datetime(2024, 1, 22, 6, tzinfo=UTC),
            at=datetime(2024, 1, 22, 9, tzinfo=UTC),
            detail="GET https://user:secret@example.org/api: HTTP 500 <@U123> *x*",
        ),
        "ops",
        UTC,
    )
    long = Message("long-key", subject="[watcher] a long note", text="word " * 20_000)
    return [test, notice, long]


@pytest.mark.parametrize("fmt", CHAT)
def test_notes_become_one_valid_body_with_their_subject(fmt: str) -> None:
    for note in notes():
        message = renderer().note(note, fmt)
        valid(fmt, message)
        [body] = bodies(message)
        assert message.subject == note.subject
        assert message.idempotency_key == note.idempotency_key
        title = {
            "slack": lambda b: b["blocks"][0]["text"]["text"],
            "teams": lambda b: b["attachments"][0]["content"]["body"][0]["text"],
            "discord": lambda b: b["embeds"][0]["title"],
            "apprise": lambda b: b["title"],
        }[fmt](body)
        assert re.sub(r"\\(.)", r"\1", title) == note.subject
        assert "secret" not in json.dumps(body)  # the notice hid the password


# --- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", CHAT)
def test_a_users_item_template_replaces_the_built_in_one(fmt: str, tmp_path: Path) -> None:
    (tmp_path / fmt).mkdir()
    (tmp_path / fmt / "item.md.j2").write_text(
        f"MINE {{{{ item.number }}}}: {{{{ item.record.title|{fmt} }}}}\n"
    )
    (tmp_path / fmt / "header.md.j2").write_text("OUR HEADER for {{ subscription.id }}\n")
    r = renderer(tmp_path)
    r.check()
    assert f"{fmt}/item.md.j2" in r.overrides
    [raw] = render(small(), fmt, r).bodies
    assert "MINE 1: Special Educational Needs: Workforce 1" in raw
    assert "MINE 3: New SEND workforce plan published" in raw
    assert "OUR HEADER for policy" in raw
    assert "Matched:" not in raw


@pytest.mark.parametrize("fmt", CHAT)
def test_a_broken_template_is_a_config_error_naming_its_file(fmt: str, tmp_path: Path) -> None:
    (tmp_path / fmt).mkdir()
    template = tmp_path / fmt / "item.md.j2"
    template.write_text("{% for x in %}")
    with pytest.raises(ConfigError, match=rf"{fmt}/item\.md\.j2"):
        renderer(tmp_path).check()
    template.write_text("{{ item.no_such_field.anything }}")
    with pytest.raises(ConfigError, match=rf"{fmt}/item\.md\.j2.*no_such_field"):
        render(small(), fmt, renderer(tmp_path))


def test_every_format_is_registered_and_its_templates_exported() -> None:
    assert set(FORMATS) >= {"email", *CHAT, "webhook"}
    for fmt in CHAT:
        assert {f"{fmt}/item.md.j2", f"{fmt}/header.md.j2"} <= set(TEMPLATES)
        assert {fmt, f"{fmt}_marked", f"{fmt}_link", f"{fmt}_change"} <= set(FORMATS[fmt].filters)


# --- every kind, excerpts, cuts --------------------------------------------------------------


@pytest.mark.parametrize("fmt", CHAT)
def test_an_item_of_every_kind_renders_with_its_link(fmt: str) -> None:
    records = every_kind()
    message = render(digest(*(item(event_of(r)) for r in records)), fmt)
    valid(fmt, message)
    joined = "\n".join(message.bodies)
    for r in records:
        assert r.url in joined, r.kind


@pytest.mark.parametrize("fmt", CHAT)
def test_questions_answered_together_show_the_other_question(fmt: str) -> None:
    [raw] = render(together(), fmt).bodies
    assert "UIN 9002" in raw


def test_an_excerpt_of_a_long_answer_starts_near_its_first_hit() -> None:
    r = question(1, long_text(20_000))
    [raw] = render(digest(item(Event(EventType.ANSWERED, r))), "slack").bodies
    texts = [b["text"]["text"] for b in json.loads(raw)["blocks"] if b["type"] == "section"]
    line = next(x for t in texts for x in t.splitlines() if x.startswith("*Answer*"))
    assert line.endswith("*SEND workforce*")
    assert "by David Johnston (Conservative, Wantage): …word" in line
    assert 600 < len(line) < 800


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # Never inside a link: before it.
        ("see the page " + "<https://x.example/a|the label>" + " now", 30, "see the page …"),
        # Never between a backslash and what it escapes.
        ("alpha beta\\*gamma", 13, "alpha beta …"),
        # At a line break when there is one late enough.
        ("first line here\nsecond line is long", 30, "first line here …"),
    ],
)
def test_a_cut_never_splits_markup(text: str, limit: int, expected: str) -> None:
    atoms = r"\\.|<[^<>\n]{1,4000}>"
    dialect = Dialect("t", str, str, str, str, lambda u, label: label, re.compile(atoms))
    assert cut(text, limit, dialect, len, " …") == expected
