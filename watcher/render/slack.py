"""The ``slack`` format: a digest as Slack incoming-webhook messages in Block Kit. Pure.

Each body is ``{"text", "blocks", "unfurl_links": false, "unfurl_media": false}``:

    text      the digest's subject, the notification's fallback
    header    the subject again, as the message's title (plain text, at most 150)
    context   the header template's line (slack/header.md.j2), and which items the part holds
    divider, section ...   per item: its text (slack/item.md.j2) in sections of at most 3,000
    context   the licence lines, linked

Slack refuses a message of more than 50 blocks, a section of more than 3,000 characters, and
one with more than about 13,000 characters of text over all its blocks (``msg_blocks_too_long``,
undocumented); a part keeps to 50 blocks and 12,000 characters, counted in UTF-16 units as
Slack's clients count them.

mrkdwn has no escape character: ``&``, ``<`` and ``>`` in user text become ``&amp;`` ``&lt;``
``&gt;``, which is also what keeps ``<!channel>``, ``<!here>`` and ``<@U123>`` in a source's text
from pinging anyone. Links are ``<url|label>`` with the label escaped and any ``|`` dropped.
Hits are bold; a correction's removed words struck through, its added words bold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from watcher.model import Message
from watcher.render.chat import (
    ELLIPSIS,
    Dialect,
    Rendered,
    Unit,
    assemble,
    chunks,
    cut,
    to_json,
    utf16,
)
from watcher.render.formats import DigestContext, Format, Templates

MAX_BLOCKS = 50
MAX_SECTION = 3000  # characters of a section's text
MAX_TEXT = 12_000  # characters of text over all blocks; Slack's limit is about 13,000
MAX_HEADER = 150  # characters of the header block's plain text
MAX_CONTEXT = 3000  # characters of a context element's text

TEMPLATES = ("subject.txt.j2", "slack/header.md.j2", "slack/item.md.j2")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # The address is escaped like text (Slack reads &amp; back as &); a | would end it early.
    label = " ".join(label.replace("|", " ").split())
    return f"<{_escape(url).replace('|', '%7C')}|{label}>"


DIALECT = Dialect(
    name="slack",
    escape=_escape,
    bold=lambda t: f"*{t}*",
    removed=lambda t: f"~{t}~",
    added=lambda t: f"*{t}*",
    link_to=_link,
    # An entity, a link or mention, an emphasised run: what a cut must not split.
    atoms=re.compile(r"&(?:amp|lt|gt);|<[^<>\n]{1,4000}>|\*[^*\n]{1,300}\*|~[^~\n]{1,300}~"),
)


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _header(subject: str) -> dict[str, Any]:
    title = cut(subject, MAX_HEADER, DIALECT, utf16, ELLIPSIS)
    return {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}


def _body(r: Rendered, label: str, units: Sequence[Unit]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [_header(r.subject)]
    context = [t for t in (r.header, label[:1].upper() + label[1:]) if t]
    if context:
        blocks.append({"type": "context", "elements": [_mrkdwn(t) for t in context]})
    for unit in units:
        blocks.append({"type": "divider"})
        for text in chunks(unit.text, MAX_SECTION, DIALECT, utf16):
            blocks.append({"type": "section", "text": _mrkdwn(text)})
    if r.licences:
        lines = "\n".join(DIALECT.link(lic.url, lic.text) for lic in r.licences)
        text = cut(lines, MAX_CONTEXT, DIALECT, utf16, ELLIPSIS)
        blocks.append({"type": "context", "elements": [_mrkdwn(text)]})
    return {
        "text": DIALECT.text(r.subject),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def block_text(body: dict[str, Any]) -> int:
    """The characters of text over a body's blocks, as Slack counts them for its limit."""
    total = 0
    for block in body["blocks"]:
        texts = [block.get("text"), *block.get("elements", ())]
        total += sum(utf16(t["text"]) for t in texts if t)
    return total


def _within(body: dict[str, Any]) -> bool:
    return len(body["blocks"]) <= MAX_BLOCKS and block_text(body) <= MAX_TEXT


def digest(ctx: DigestContext, templates: Templates) -> Message:
    return assemble(ctx, templates, DIALECT, _body, _within)


def note(message: Message) -> Message:
    header = _header(message.subject)
    room = MAX_TEXT - utf16(header["text"]["text"])
    text = cut(DIALECT.text(message.text), room, DIALECT, utf16, f" {ELLIPSIS}")
    sections = [
        {"type": "section", "text": _mrkdwn(t)}
        for t in chunks(text, MAX_SECTION, DIALECT, utf16)[: MAX_BLOCKS - 1]
    ]
    body = {"text": DIALECT.text(message.subject), "blocks": [header, *sections]}
    return Message(message.idempotency_key, subject=message.subject, bodies=(to_json(body),))


FORMAT = Format("slack", TEMPLATES, digest, note, DIALECT.filters())
