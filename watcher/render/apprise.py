"""The ``apprise`` format: a digest as notifications for Apprise (ntfy, Matrix, Telegram ...),
in Markdown. Pure.

Each body is ``{"title", "body", "format": "markdown"}``, the arguments of Apprise's
``notify(title=, body=, body_format=)``: the title is the digest's subject; the body the header
template's line (apprise/header.md.j2), which items the part holds, each item's text
(apprise/item.md.j2), each ending with a link to the item's official page, and the licence
lines.

The services behind Apprise limit a message to about 4,096 (ntfy counts bytes, Telegram
characters, and Telegram puts the title into the body), so a body keeps to 3,400 bytes of
UTF-8 and a digest longer than that is several notifications.

Markdown in user text is escaped with backslashes, and ``&``, ``<`` and ``>`` become entities
(Apprise turns Markdown into HTML for some services, and HTML in a source's text must stay
text); ``@room``, ``@everyone``, ``@here`` and ``@channel`` get a zero-width space after the
``@`` (in the title too), so no service reads them as a mention. Hits are bold. Markdown
varies too much between the services for strike-through: a correction's changes are marked as
in the plain-text email, ``[-removed words-]`` and ``{+added words+}``.
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
    cut,
    markdown_link,
    to_json,
    utf8,
)
from watcher.render.formats import DigestContext, Format, Templates

MAX_BODY = 3400  # bytes of UTF-8 in a body
TEMPLATES = ("subject.txt.j2", "apprise/header.md.j2", "apprise/item.md.j2")

_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_START = re.compile(r"(?m)^(\s*)([-+]|\d+\.)")
_MENTION = re.compile(r"@(?=(?:room|everyone|here|channel)\b)", re.IGNORECASE)
_BREAK = "  \n"  # a line break inside a paragraph, in every Markdown


def escape(text: str) -> str:
    """User text as the notification shows it literally."""
    text = re.sub(r"[&<>]", lambda m: _ENTITIES[m.group()], text)
    text = _SPECIAL.sub(r"\\\1", text)
    return _MENTION.sub("@\u200b", _LINE_START.sub(r"\1\\\2", text))


def title(subject: str) -> str:
    """The subject as a notification's title: plain text to Apprise, but some services put it
    into the message, so it mentions no one either."""
    return _MENTION.sub("@\u200b", subject)


DIALECT = Dialect(
    name="apprise",
    escape=escape,
    bold=lambda t: f"**{t}**",
    removed=lambda t: f"[-{t}-]",
    added=lambda t: f"{{+{t}+}}",
    link_to=markdown_link,
    atoms=re.compile(
        r"\\.|&(?:amp|lt|gt);|\[(?:\\.|[^\]\\\n]){0,1000}\]\([^()\s]{1,4000}\)"
        r"|\*\*[^*\n]{1,300}\*\*|\[-[^\n]{0,300}?-\]|\{\+[^\n]{0,300}?\+\}"
    ),
)


def _lines(text: str) -> str:
    return _BREAK.join(line for line in text.splitlines() if line.strip())


def _body(r: Rendered, label: str, units: Sequence[Unit]) -> dict[str, Any]:
    paragraphs = [_lines(r.header)] if r.header else []
    if label:
        paragraphs.append(f"_{DIALECT.text(label[:1].upper() + label[1:])}_")
    paragraphs.extend(_lines(u.text) for u in units)
    if r.licences:
        paragraphs.append(_BREAK.join(DIALECT.link(lic.url, lic.text) for lic in r.licences))
    return {"title": title(r.subject), "body": "\n\n".join(paragraphs), "format": "markdown"}


def _within(body: dict[str, Any]) -> bool:
    return utf8(body["body"]) <= MAX_BODY


def digest(ctx: DigestContext, templates: Templates) -> Message:
    return assemble(ctx, templates, DIALECT, _body, _within)


def note(message: Message) -> Message:
    paragraphs = [_lines(DIALECT.text(p)) for p in message.text.split("\n\n") if p.strip()]
    text = cut("\n\n".join(paragraphs), MAX_BODY, DIALECT, utf8, f" {ELLIPSIS}")
    body = {"title": title(message.subject), "body": text, "format": "markdown"}
    return Message(message.idempotency_key, subject=message.subject, bodies=(to_json(body),))


FORMAT = Format("apprise", TEMPLATES, digest, note, DIALECT.filters())
