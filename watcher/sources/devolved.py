"""What the devolved legislatures' question sources share: reading plain-text answers as
paragraphs, a title cut from a question's words when the source gives none, and ids that
arrive as numbers or as digits. Pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from watcher import text
from watcher.errors import ParseError
from watcher.model import Text
from watcher.sources.apijson import sanitised

TITLE_LIMIT = 120
MAX_PROBLEMS = 3  # unreadable questions a listing's error names


def plain_field(v: Mapping[str, Any], name: str) -> Text | None:
    """A plain-text field as paragraphs: each line (``\\r\\n`` or ``\\n``) is one, as the
    Scottish Parliament's answers are written. Markup in it is shown, never obeyed."""
    raw = v.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ParseError(f"field {name}: expected a string, got {raw!r:.40}")
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", raw)]
    html = text.text_to_html("\n\n".join(line for line in lines if line))
    return sanitised(html) if html else None


def html_or_plain(v: Mapping[str, Any], html_name: str, plain_name: str) -> Text | None:
    """The HTML field sanitised if it has words, else the plain one as paragraphs."""
    raw = v.get(html_name)
    if raw is not None and not isinstance(raw, str):
        raise ParseError(f"field {html_name}: expected a string, got {raw!r:.40}")
    found = sanitised(raw) if raw and raw.strip() else None
    return found or plain_field(v, plain_name)


def title_from(words: str, limit: int = TITLE_LIMIT) -> str:
    """``words`` on one line, cut at a word boundary to at most ``limit`` characters."""
    line = " ".join(words.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def ident(v: Mapping[str, Any], name: str) -> int | None:
    """An id that may be written as a number or as a string of digits (XML-born JSON)."""
    raw = v.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise ParseError(f"field {name}: expected an id (digits), got {raw!r:.40}")


def string(v: Mapping[str, Any], name: str) -> str | None:
    """A string field, stripped; None when missing or blank."""
    raw = v.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ParseError(f"field {name}: expected a string, got {raw!r:.40}")
    return raw.strip() or None


def truthy(v: Mapping[str, Any], name: str) -> bool:
    """A flag written as true/false, 1/0 or "True"/"False" (the data is not consistent)."""
    raw = v.get(name)
    if isinstance(raw, str):
        return raw.strip().lower() in {"true", "1", "yes", "y"}
    return bool(raw)


def unreadable(problems: Sequence[str]) -> str:
    """One line naming the first few unreadable questions of a listing."""
    extra = len(problems) - MAX_PROBLEMS
    more = f" (and {extra} more)" if extra > 0 else ""
    return f"{len(problems)} unreadable question(s): " + "; ".join(problems[:MAX_PROBLEMS]) + more
