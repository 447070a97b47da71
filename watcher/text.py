"""HTML from sources, made safe, flattened to plain text, and highlighted again; the changed
passages of a correction (``watcher.changes``) marked up for reading.

``html_to_text`` and ``highlight_html`` share one walk over the markup, so an offset into the
plain text (which is what the matcher reports) lands on the same character in the HTML.
Pure functions: no I/O.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

from watcher.changes import Change, Kind, Passage, Piece

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_PARAGRAPH = {
    "p",
    "div",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "pre",
    "hr",
}
_LINE = {"br", "li", "tr", "caption"}
_CELL = {"td", "th"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sanitise_html(html: str) -> str:
    """Keep formatting and links; drop scripts, styles, event handlers and unknown markup."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def strip_control(value: str) -> str:
    """For header values: no CR/LF or other control characters, single spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())


@dataclass
class _Node:
    kind: str  # "tag" or "text"
    raw: str  # the tag as written, or the decoded text
    offsets: list[int | None]  # for text: plain offset of each character (None for whitespace)


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.plain: list[str] = []
        self.length = 0
        self.nodes: list[_Node] = []
        self._break = 0  # newlines owed before the next character
        self._space = False  # a space owed before the next character

    def _owe_break(self, n: int) -> None:
        self._break = max(self._break, n)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append(_Node("tag", self.get_starttag_text() or f"<{tag}>", []))
        if tag in _PARAGRAPH:
            self._owe_break(2)
        elif tag in _LINE:
            self._owe_break(1)
        elif tag in _CELL:
            self._space = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.nodes.append(_Node("tag", f"</{tag}>", []))
        if tag in _PARAGRAPH:
            self._owe_break(2)
        elif tag in _LINE:
            self._owe_break(1)
        elif tag in _CELL:
            self._space = True

    def handle_data(self, data: str) -> None:
        offsets: list[int | None] = []
        for ch in data:
            if ch.isspace():
                self._space = True
                offsets.append(None)
                continue
            if self.length:
                sep = "\n" * self._break if self._break else (" " if self._space else "")
                self.plain.append(sep)
                self.length += len(sep)
            self._break = 0
            self._space = False
            offsets.append(self.length)
            self.plain.append(ch)
            self.length += 1
        self.nodes.append(_Node("text", data, offsets))


def _walk(html: str) -> _Walker:
    walker = _Walker()
    walker.feed(html)
    walker.close()
    return walker


def html_to_text(html: str) -> str:
    """Readable plain text: paragraphs separated by a blank line, runs of spaces folded."""
    return "".join(_walk(html).plain)


def text_to_html(text: str) -> str:
    """Plain text (a source without markup) as paragraphs of HTML."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join("<p>" + htmllib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def highlight_html(
    html: str,
    spans: Iterable[tuple[int, int]],
    open_tag: str = "<mark>",
    close_tag: str = "</mark>",
) -> str:
    """Wrap the characters that ``spans`` (offsets into ``html_to_text(html)``) cover.

    A span that crosses markup is marked piecewise, so the result stays well formed.
    """
    wanted = sorted(spans)
    if not wanted:
        return html
    out: list[str] = []
    for node in _walk(html).nodes:
        if node.kind == "tag":
            out.append(node.raw)
            continue
        marks = _marks(node.offsets, wanted)
        i = 0
        while i < len(node.raw):
            j = i
            while j < len(node.raw) and marks[j] == marks[i]:
                j += 1
            chunk = htmllib.escape(node.raw[i:j], quote=False)
            out.append(f"{open_tag}{chunk}{close_tag}" if marks[i] else chunk)
            i = j
    return "".join(out)


def highlight_text(
    text: str, spans: Iterable[tuple[int, int]], open_mark: str = "[", close_mark: str = "]"
) -> str:
    """Plain-text highlighting: ``[SEND workforce]``."""
    out: list[str] = []
    pos = 0
    for start, end in _merge(sorted(spans)):
        out.append(text[pos:start])
        out.append(f"{open_mark}{text[start:end]}{close_mark}")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marks(offsets: list[int | None], spans: list[tuple[int, int]]) -> list[int]:
    """Per character: the 1-based index of the span covering it, or 0."""

    def covering(pos: int) -> int:
        for n, (start, end) in enumerate(spans, 1):
            if start <= pos < end:
                return n
        return 0

    marks = [0 if off is None else covering(off) for off in offsets]
    # Whitespace between two characters of the same span belongs to the span.
    for i, off in enumerate(offsets):
        if off is not None:
            continue
        before = next((marks[k] for k in range(i - 1, -1, -1) if offsets[k] is not None), 0)
        after = next((marks[k] for k in range(i + 1, len(offsets)) if offsets[k] is not None), 0)
        if before and before == after:
            marks[i] = before
    return marks


def mark_change_html(change: Change, styles: Mapping[Kind, str]) -> str:
    """A change's passages as HTML, one ``<p>`` each: every piece of text escaped, removed
    words in ``<del>`` and added ones in ``<ins>`` with the inline style ``styles`` gives them,
    line breaks as ``<br>``, "…" where words of the line are left out."""

    def piece(p: Piece) -> str:
        body = _html_breaks(htmllib.escape(p.text, quote=False))
        if p.kind is Kind.SAME:
            return body
        tag = "del" if p.kind is Kind.REMOVED else "ins"
        style = htmllib.escape(styles.get(p.kind, ""))
        return f'<{tag} style="{style}">{body}</{tag}>'

    return "\n".join(
        f'<p style="margin:0 0 8px 0;">{_passage(p, piece, _html_breaks)}</p>'
        for p in change.passages
    )


def mark_change_text(change: Change, marks: Mapping[Kind, tuple[str, str]]) -> str:
    """A change's passages as plain text, a blank line between them: removed and added words
    wrapped in the ``marks`` given for their kind (``[-removed-]``, ``{+added+}``)."""

    def piece(p: Piece) -> str:
        before, after = marks.get(p.kind, ("", ""))
        return f"{before}{p.text}{after}"

    return "\n\n".join(_passage(p, piece, str) for p in change.passages)


def _passage(passage: Passage, piece: Callable[[Piece], str], space: Callable[[str], str]) -> str:
    out = ["…" if passage.opens_mid else ""]
    for n, p in enumerate(passage.pieces):
        out.append((space(p.space) if n else "") + piece(p))
    out.append("…" if passage.closes_mid else "")
    return "".join(out)


def _html_breaks(text: str) -> str:
    return text.replace("\n", "<br>")
