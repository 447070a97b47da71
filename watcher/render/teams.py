"""The ``teams`` format: a digest as Microsoft Teams messages for a Workflows webhook, each an
Adaptive Card (version 1.4). Pure.

Each body is ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]}``, the card:

    TextBlock   the digest's subject, bold
    TextBlock   the header template's line (teams/header.md.j2)
    FactSet     which items the part holds, for a digest in several parts
    Container   per item, under a separator: its text (teams/item.md.j2), each line a
                paragraph, and an Action.OpenUrl button to the item's official page
    TextBlock   the licence lines, linked, small

Teams refuses a message over about 28 KB; a part keeps to 27,000 bytes of UTF-8 JSON, the
whole body as posted.

Adaptive Cards read a small Markdown (bold, italic, lists, links) and no HTML; mentions need
entities we never send, so no text can ping anyone. ``*``, ``_``, ``[``, ``]`` and ``\\`` in user
text are escaped with a backslash, and so is what would start a list at the start of a line.
(Teams' mobile clients have shown such backslashes in the past; a stray backslash is the
lesser harm than a source's text turning into formatting or a link.) Hits are bold. Adaptive
Cards have no strike-through, so a correction's changes are marked as in the plain-text email:
``[-removed words-]`` and ``{+added words+}``.
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
    href,
    markdown_link,
    to_json,
    utf8,
)
from watcher.render.formats import DigestContext, Format, Templates

MAX_BYTES = 27_000  # of the body as posted; Teams' limit is about 28 KB
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD = "application/vnd.microsoft.card.adaptive"

TEMPLATES = ("subject.txt.j2", "teams/header.md.j2", "teams/item.md.j2")

_SPECIAL = re.compile(r"([\\*_\[\]])")
_LINE_START = re.compile(r"(?m)^(\s*)([-+]|\d+\.)")


def escape(text: str) -> str:
    """User text as a card shows it literally: no emphasis, no link, no list."""
    return _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))


DIALECT = Dialect(
    name="teams",
    escape=escape,
    bold=lambda t: f"**{t}**",
    removed=lambda t: f"[-{t}-]",
    added=lambda t: f"{{+{t}+}}",
    link_to=markdown_link,
    atoms=re.compile(
        r"\\.|\[(?:\\.|[^\]\\\n]){0,1000}\]\([^()\s]{1,4000}\)"
        r"|\*\*[^*\n]{1,300}\*\*|\[-[^\n]{0,300}?-\]|\{\+[^\n]{0,300}?\+\}"
    ),
)


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _paragraphs(text: str) -> str:
    # A card's TextBlock breaks a line only at a blank line.
    return "\n\n".join(line for line in text.splitlines() if line.strip())


def _item(unit: Unit) -> dict[str, Any]:
    items: list[dict[str, Any]] = [_text(_paragraphs(unit.text))]
    view = unit.view
    if view.url:
        title = f"Read it on {view.site}"
        action = {"type": "Action.OpenUrl", "title": title, "url": href(view.url)}
        items.append({"type": "ActionSet", "actions": [action]})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _wrap(body: list[dict[str, Any]]) -> dict[str, Any]:
    card = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD, "contentUrl": None, "content": card}],
    }


def _body(r: Rendered, label: str, units: Sequence[Unit]) -> dict[str, Any]:
    body = [_text(DIALECT.text(r.subject), size="Medium", weight="Bolder")]
    if r.header:
        body.append(_text(_paragraphs(r.header), isSubtle=True, spacing="None"))
    if label:
        shown = label.split(" ", 1)
        fact = {"title": shown[0].title(), "value": shown[1]}
        body.append({"type": "FactSet", "facts": [fact]})
    body.extend(_item(u) for u in units)
    if r.licences:
        lines = "\n\n".join(DIALECT.link(lic.url, lic.text) for lic in r.licences)
        body.append(_text(lines, size="Small", isSubtle=True, separator=True))
    return _wrap(body)


def size(body: dict[str, Any]) -> int:
    """The bytes Teams counts: the whole body as posted, in UTF-8."""
    return utf8(to_json(body))


def _within(body: dict[str, Any]) -> bool:
    return size(body) <= MAX_BYTES


def digest(ctx: DigestContext, templates: Templates) -> Message:
    return assemble(ctx, templates, DIALECT, _body, _within)


def note(message: Message) -> Message:
    subject = _text(DIALECT.text(message.subject), size="Medium", weight="Bolder")
    # As JSON in UTF-8 a character is at most six bytes, so a sixth of the room always fits;
    # a notice is far shorter.
    text = cut(DIALECT.text(message.text), MAX_BYTES // 6, DIALECT, utf8, f" {ELLIPSIS}")
    body = _wrap([subject, _text(_paragraphs(text))])
    return Message(message.idempotency_key, subject=message.subject, bodies=(to_json(body),))


FORMAT = Format("teams", TEMPLATES, digest, note, DIALECT.filters())
