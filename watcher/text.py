"""Text from sources, made safe and bounded, flattened to plain text, and highlighted again;
the changed passages of a correction (``watcher.changes``) marked up for reading.

``html_to_text`` and ``highlight_html`` share one walk over the markup (``watcher.markup``), so
an offset into the plain text (which is what the matcher reports) lands on the same character in
the HTML. Hostile or broken text never raises and never costs more than linear time (n log n in
the number of hits): lone surrogates and control characters are scrubbed, deep nesting is
flattened, and a text longer than ``MAX_TEXT_CHARS`` is cut with a note saying so.
Pure functions: no I/O.
"""

from __future__ import annotations

import html as htmllib
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from heapq import heappop, heappush
from itertools import pairwise

import nh3

from watcher import markup
from watcher.changes import Change, Kind, Passage, Piece
from watcher.model import Text

# Plain text kept of one text. The longest written answers run to tens of thousands of
# characters; a million is far beyond any real one, yet bounds what matching, highlighting and
# one digest item cost (about a megabyte of e-mail).
MAX_TEXT_CHARS = 1_000_000
# Markup read of one text before sanitising: tables and links make HTML several times longer
# than its text, so this cut only ever shortens a text that MAX_TEXT_CHARS would cut anyway.
MAX_HTML_CHARS = 10 * MAX_TEXT_CHARS
# An attribute value longer than this (an address, a title) is dropped: browsers stop at about
# 2,000 characters of address, and nothing else we keep needs more.
MAX_ATTRIBUTE_CHARS = 4096
CUT_NOTE = (
    f"[watcher: text cut at {MAX_TEXT_CHARS:,} characters; the full text is on the official page]"
)
_WORD_SEARCH = 1000  # how far back from a limit a cut looks for a space

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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCRUB_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]")
_IRREGULAR = re.compile(r"\s\s+|[^\S ]")  # whitespace that plain text writes as one space


def scrub(value: str) -> str:
    """``value`` safe to store, encode and show: lone surrogates (from ``"\\ud800"`` in JSON)
    become U+FFFD, a surrogate pair becomes the character it encodes, and control characters
    other than tab, line feed and carriage return go. The controls that Python counts as
    whitespace (VT, FF, FS, GS, RS, US, NEL) become a space, so words they separate stay apart.
    Any other string is returned unchanged.
    """
    if _SURROGATE.search(value):
        value = _SURROGATE.sub(_surrogate, value)
    if _SCRUB_CONTROL.search(value):
        value = _SCRUB_CONTROL.sub(_control, value)
    return value


def _surrogate(m: re.Match[str]) -> str:
    pair = m.group()
    if len(pair) == 1:
        return "\ufffd"
    return chr(0x10000 + ((ord(pair[0]) - 0xD800) << 10) + (ord(pair[1]) - 0xDC00))


def _control(m: re.Match[str]) -> str:
    return " " if m.group().isspace() else ""


def sanitise_html(html: str) -> str:
    """Keep formatting and links; drop scripts, styles, event handlers and unknown markup.

    Takes any string: it is scrubbed first, markup nested deeper than the sanitiser handles in
    linear time is flattened (``watcher.markup.defuse``), and attribute values longer than
    ``MAX_ATTRIBUTE_CHARS`` are dropped.
    """
    clean = nh3.clean(
        markup.defuse(scrub(html)),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        attribute_filter=_short_attribute,
    )
    # Character references such as &#1; decode to control characters.
    return scrub(clean)


def _short_attribute(tag: str, attribute: str, value: str) -> str | None:
    return value if len(value) <= MAX_ATTRIBUTE_CHARS else None


def strip_control(value: str) -> str:
    """For header values: no CR/LF or other control characters, single spaces."""
    return " ".join(scrub(_CONTROL.sub(" ", value)).split())


def html_to_text(html: str) -> str:
    """Readable plain text: paragraphs separated by a blank line, runs of spaces folded.

    Takes any string (it is scrubbed first); linear in its length.
    """
    return markup.walk(scrub(html))


def text_to_html(text: str) -> str:
    """Plain text (a source without markup) as paragraphs of HTML."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", scrub(text)) if p.strip()]
    return "".join("<p>" + htmllib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


# --- building a Text -----------------------------------------------------------------------


def from_html(html: str) -> Text:
    """A source's HTML as a ``Text``: sanitised, and its plain text by ``html_to_text``.

    A text longer than ``MAX_TEXT_CHARS`` characters of plain text (or ``MAX_HTML_CHARS`` of
    markup) is cut at a space before the limit, the markup closed, and ``CUT_NOTE`` added as a
    last paragraph, so both forms say so. ``plain`` is always ``html_to_text`` of the
    returned ``html``.
    """
    return _build(html[:MAX_HTML_CHARS], cut=len(html) > MAX_HTML_CHARS)


def from_plain(plain: str) -> Text:
    """A source's plain text as a ``Text``: paragraphs at blank lines, line breaks kept, cut as
    ``from_html`` cuts."""
    return _build(text_to_html(plain[:MAX_HTML_CHARS]), cut=len(plain) > MAX_HTML_CHARS)


def _build(html: str, cut: bool) -> Text:
    safe = sanitise_html(html)
    nodes: list[markup.Node] = []
    plain = markup.walk(safe, nodes)
    if len(plain) > MAX_TEXT_CHARS:
        safe, cut = _cut(safe, nodes, _boundary(plain, MAX_TEXT_CHARS)), True
    if not cut:
        return Text(html=safe, plain=plain)
    safe += f"<p>{htmllib.escape(CUT_NOTE, quote=False)}</p>"
    return Text(html=safe, plain=html_to_text(safe))


def _boundary(plain: str, limit: int) -> int:
    """How many characters of ``plain`` to keep: up to the last space or line break within
    ``limit``, unless there is none near it (one enormous word), then ``limit``."""
    space = max(plain.rfind(" ", 0, limit + 1), plain.rfind("\n", 0, limit + 1))
    return space if space > limit - _WORD_SEARCH else limit


def _cut(html: str, nodes: list[markup.Node], keep: int) -> str:
    """``html`` (well formed, as the sanitiser writes it) up to the ``keep``-th character of
    its plain text, with the elements open there closed."""
    open_names: list[str] = []
    for node in nodes:
        if node.kind == markup.START and node.name not in markup.VOID:
            open_names.append(node.name)
        elif node.kind == markup.END and open_names and open_names[-1] == node.name:
            open_names.pop()  # the sanitiser's markup is well formed: it closes the last opened
        elif node.kind == markup.TEXT and node.size and node.at + node.size > keep:
            head = html[: node.start]
            if node.at < keep:
                end = _Offsets(node).raw(keep - node.at - 1) + 1
                head += htmllib.escape(node.raw[:end], quote=False)
            return head + "".join(f"</{name}>" for name in reversed(open_names))
    return html


# --- highlighting --------------------------------------------------------------------------


def highlight_html(
    html: str,
    spans: Iterable[tuple[int, int]],
    open_tag: str = "<mark>",
    close_tag: str = "</mark>",
) -> str:
    """Wrap the characters that ``spans`` (offsets into the plain text of ``html``) cover.

    The plain text is ``html_to_text(html)`` for markup that ``sanitise_html`` wrote, as every
    ``Text.html`` is; ``html`` is walked as given (not scrubbed again), so the offsets of a text
    stored before scrubbing existed still land where they did. A span that crosses markup is
    marked piecewise, so the result stays well formed. Where spans overlap, a character belongs
    to the first in sorted order; whitespace between two characters of one span belongs to it.
    Linear in the markup, n log n in the spans.
    """
    wanted = sorted(spans)
    if not wanted:
        return html
    marks = _segments(wanted)
    nodes: list[markup.Node] = []
    plain = markup.walk(html, nodes)
    out: list[str] = []
    i = 0
    for node in nodes:
        if node.kind != markup.TEXT:
            out.append(node.raw)
            continue
        first, last = node.at, node.at + node.size
        while i < len(marks) and marks[i][1] <= first:
            i += 1
        j = i
        while j < len(marks) and marks[j][0] < last:
            j += 1
        if not node.size or j == i:
            out.append(htmllib.escape(node.raw, quote=False))
        else:
            out.append(_mark_node(node, plain, marks[i:j], open_tag, close_tag))
    return "".join(out)


def _segments(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The marked stretches of the plain text, in order: ``(start, end, n)``, ``n`` the 1-based
    index among the sorted ``spans`` of the first span covering each character in it."""
    points = sorted({p for span in spans for p in span})
    active: list[tuple[int, int]] = []  # a heap of (index, end); ended spans leave lazily
    out: list[tuple[int, int, int]] = []
    i = 0
    for here, there in pairwise(points):
        while i < len(spans) and spans[i][0] <= here:
            i += 1
            heappush(active, (i, spans[i - 1][1]))
        while active and active[0][1] <= here:
            heappop(active)
        if not active:
            continue
        n = active[0][0]
        if out and out[-1][2] == n and out[-1][1] == here:
            out[-1] = (out[-1][0], there, n)
        else:
            out.append((here, there, n))
    return out


def _mark_node(
    node: markup.Node,
    plain: str,
    marks: Sequence[tuple[int, int, int]],
    open_tag: str,
    close_tag: str,
) -> str:
    offsets = _Offsets(node)
    data, at = node.raw, node.at
    out: list[str] = []
    pos = 0
    for start, end, _ in marks:
        s, e = max(start, at) - at, min(end, at + node.size) - at
        # A space at either end of a stretch has a differently marked character beside it.
        if plain[at + s] == " ":
            s += 1
        if e > s and plain[at + e - 1] == " ":
            e -= 1
        if s >= e:
            continue
        raw_start, raw_end = offsets.raw(s), offsets.raw(e - 1) + 1
        out.append(htmllib.escape(data[pos:raw_start], quote=False))
        out.append(open_tag + htmllib.escape(data[raw_start:raw_end], quote=False) + close_tag)
        pos = raw_end
    out.append(htmllib.escape(data[pos:], quote=False))
    return "".join(out)


class _Offsets:
    """Where each character of a text node's plain text is in its decoded text: the plain text
    is the words joined by single spaces, so only other whitespace moves the two apart."""

    __slots__ = ("_extra", "_lead", "_spaces")

    def __init__(self, node: markup.Node) -> None:
        self._lead = node.lead
        self._spaces: list[int] = []  # plain offset of each space that stands for other whitespace
        self._extra: list[int] = []  # characters of whitespace dropped up to and including it
        extra = 0
        for m in _IRREGULAR.finditer(node.raw, node.lead):
            self._spaces.append(m.start() - node.lead - extra)
            extra += m.end() - m.start() - 1
            self._extra.append(extra)

    def raw(self, k: int) -> int:
        """The offset in the decoded text of the plain text's ``k``-th character (not a space)."""
        n = bisect_right(self._spaces, k)
        return self._lead + k + (self._extra[n - 1] if n else 0)


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
