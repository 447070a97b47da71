"""The ``discord`` format: a digest as Discord webhook messages with embeds. Pure.

Each body is ``{"content", "embeds", "allowed_mentions": {"parse": []}}``:

    content   the digest's subject in bold, the header template's line (discord/header.md.j2),
              which items the part holds, and the licence lines, linked
    embeds    one per item: its number and title (linked to the item), its text
              (discord/item.md.j2) as the description, a colour for what happened

Discord refuses a message with more than 10 embeds, more than 6,000 characters over all its
embeds' titles, descriptions, fields, footers and authors, an embed title over 256 or a
description over 4,096 characters, or content over 2,000; a part keeps to each, counted in
UTF-16 units (never fewer than Discord's characters).

``allowed_mentions`` with nothing to parse means no text, ours or a source's, can ping
@everyone, @here, a role or a user. Discord markdown in user text is escaped with backslashes
(``\\*``, ``\\_``, ``\\<@123>``, ``\\@everyone`` ...), so a source's text reads as written. Hits
are bold; a correction's removed words struck through, its added words bold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from watcher.model import EventType, Message
from watcher.render.chat import (
    ELLIPSIS,
    Dialect,
    Rendered,
    Unit,
    assemble,
    cut,
    markdown_link,
    to_json,
    utf16,
)
from watcher.render.formats import DigestContext, Format, Templates

MAX_EMBEDS = 10
MAX_EMBED_TEXT = 6000  # over every embed's title, description, fields, footer and author
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_CONTENT = 2000

TEMPLATES = ("subject.txt.j2", "discord/header.md.j2", "discord/item.md.j2")

# Everything Discord's markdown, mentions and masked links are made of; a backslash before any
# punctuation shows it as itself.
_SPECIAL = re.compile(r"([\\*_~`|<>\[\]@])")
_LINE_START = re.compile(r"(?m)^(\s*)([-+#]|\d+\.)")
_COLOURS = {
    EventType.CORRECTED: 0xB00020,
    EventType.WITHDRAWN: 0xB00020,
    EventType.HOLDING: 0xC77C00,
}
_GREEN = 0x006E46


def escape(text: str) -> str:
    """User text as Discord shows it literally: no markdown, no mention, no masked link."""
    return _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))


DIALECT = Dialect(
    name="discord",
    escape=escape,
    bold=lambda t: f"**{t}**",
    removed=lambda t: f"~~{t}~~",
    added=lambda t: f"**{t}**",
    link_to=markdown_link,
    atoms=re.compile(
        r"\\.|\[(?:\\.|[^\]\\\n]){0,1000}\]\([^()\s]{1,4000}\)"
        r"|\*\*[^*\n]{1,300}\*\*|~~[^~\n]{1,300}~~"
    ),
)


def _content(r: Rendered, label: str) -> str:
    lines = [f"**{DIALECT.text(r.subject)}**"]
    if label:
        lines.append(DIALECT.text(label[:1].upper() + label[1:]))
    licences = [DIALECT.link(lic.url, lic.text) for lic in r.licences]
    fixed = sum(utf16(line) + 1 for line in (*lines, *licences))
    if r.header:
        room = max(0, MAX_CONTENT - fixed - 1)
        lines.insert(1, cut(r.header, room, DIALECT, utf16, ELLIPSIS))
    return cut("\n".join([*lines, *licences]), MAX_CONTENT, DIALECT, utf16, ELLIPSIS)


def _embed(unit: Unit) -> dict[str, Any]:
    view = unit.view
    title = cut(f"{view.number}. {DIALECT.text(view.record.title)}", MAX_TITLE, DIALECT, utf16, "…")
    embed: dict[str, Any] = {"title": title, "description": unit.text}
    if view.url:
        embed["url"] = view.url
    embed["color"] = _COLOURS.get(view.event.type, _GREEN)
    return embed


def _body(r: Rendered, label: str, units: Sequence[Unit]) -> dict[str, Any]:
    return {
        "content": _content(r, label),
        "embeds": [_embed(u) for u in units],
        "allowed_mentions": {"parse": []},
    }


def embed_text(body: dict[str, Any]) -> int:
    """The characters Discord counts against its 6,000 over all of a body's embeds."""
    total = 0
    for embed in body.get("embeds", ()):
        total += utf16(embed.get("title", "")) + utf16(embed.get("description", ""))
        total += utf16(embed.get("footer", {}).get("text", ""))
        total += utf16(embed.get("author", {}).get("name", ""))
        total += sum(utf16(f["name"]) + utf16(f["value"]) for f in embed.get("fields", ()))
    return total


def _within(body: dict[str, Any]) -> bool:
    embeds = body["embeds"]
    return (
        len(embeds) <= MAX_EMBEDS
        and embed_text(body) <= MAX_EMBED_TEXT
        and all(utf16(e["description"]) <= MAX_DESCRIPTION for e in embeds)
        and utf16(body["content"]) <= MAX_CONTENT
    )


def digest(ctx: DigestContext, templates: Templates) -> Message:
    return assemble(ctx, templates, DIALECT, _body, _within)


def note(message: Message) -> Message:
    title = cut(DIALECT.text(message.subject), MAX_TITLE, DIALECT, utf16, ELLIPSIS)
    text = cut(DIALECT.text(message.text), MAX_DESCRIPTION, DIALECT, utf16, f" {ELLIPSIS}")
    body = {
        "embeds": [{"title": title, "description": text, "color": _GREEN}],
        "allowed_mentions": {"parse": []},
    }
    return Message(message.idempotency_key, subject=message.subject, bodies=(to_json(body),))


FORMAT = Format("discord", TEMPLATES, digest, note, DIALECT.filters())
