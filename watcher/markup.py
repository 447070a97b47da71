"""A linear HTML tokenizer, the plain-text walk built on it, and the defusing of markup that
would make the sanitiser slow.

``watcher.text`` is the public face: it flattens HTML to plain text and highlights it again
through ``walk``, so an offset into the plain text lands on the same character in the HTML.

Why not ``html.parser``: on malformed input it is quadratic (an unterminated ``<a "`` followed
by a few hundred kilobytes takes minutes) and it can raise (``<![``). This tokenizer follows the
HTML5 tokenizer's rules for where tags, comments and attribute values end, so it agrees with the
sanitiser on sanitised markup and never scans a character twice on any input.

Why ``defuse``: the sanitiser's HTML5 tree builder does work proportional to the depth of the
open elements for every block tag, and re-opens every unclosed formatting element (``<b>``,
``<i>`` ...) at every paragraph, so deeply nested or unclosed markup costs it quadratic time and
output (44 KB of ``<b id=n>`` and ``<p>x`` became 63 MB in 8 s). ``defuse`` drops the tags beyond
``MAX_DEPTH`` open elements and beyond ``MAX_FORMATTING`` unclosed formatting elements, and
closes elements explicitly when re-opening would exceed ``REBUILD_BUDGET``; text always stays.
Pure functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from string import ascii_letters

MAX_DEPTH = 200  # open elements; real documents nest a few dozen deep at most
MAX_FORMATTING = 20  # unclosed <b>, <i>, <a> ...; real documents rarely leave three
# Formatting elements re-opened in all: a document that leaves a <b> unclosed in its first
# paragraph re-opens it in each later one, so a long one comes to thousands.
REBUILD_BUDGET = 100_000

TEXT, START, END, OTHER = range(4)  # OTHER: comments, declarations, script and style content

_LETTERS = frozenset(ascii_letters)
_NAME = re.compile(r"[^\t\n\f\r />]*")
# One attribute, or the '>' that ends the tag. Each branch is decided by its first character, so
# a match never backtracks; a quoted value without its closing quote runs to the end of input.
_ATTRIBUTE = re.compile(
    r"[\t\n\f\r /]*(?:(>)|[^\t\n\f\r />][^\t\n\f\r />=]*[\t\n\f\r ]*"
    r"(?:=[\t\n\f\r ]*(?:\"[^\"]*(\"?)|'[^']*('?)|[^\t\n\f\r >]*))?)"
)
_RAW_TEXT = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE) for name in ("script", "style")
}

Token = tuple[int, int, int, str]  # kind, start, end (offsets into the markup), tag name


def tokens(html: str) -> Iterator[Token]:
    """The markup as text runs, start tags, end tags and the rest, in order.

    A tag that the input ends inside is dropped, as an HTML5 parser drops it. A ``<`` that
    opens nothing is text.
    """
    n = len(html)
    pos = text_at = 0
    while True:
        lt = html.find("<", pos)
        if lt < 0 or lt + 1 >= n:
            break
        c = html[lt + 1]
        kind, name, after = START, "", lt + 1
        if c == "/":
            kind, after = END, lt + 2
            c = html[after : after + 1]
        if c in _LETTERS:
            m = _NAME.match(html, after)
            name_end = m.end() if m else after
            name = html[after:name_end].lower()
            close = _tag_end(html, name_end)
            end = close + 1 if close >= 0 else n + 1
        elif kind == END and not c:
            break  # "</" at the end is text
        elif kind == END or c in "!?":
            kind, end = OTHER, _other_end(html, lt)
        else:
            pos = lt + 1  # text
            continue
        if text_at < lt:
            yield TEXT, text_at, lt, ""
        if end > n:
            return
        yield kind, lt, end, name
        pos = text_at = end
        if kind == START and name in _RAW_TEXT:
            m = _RAW_TEXT[name].search(html, pos)
            stop = m.start() if m else n
            if pos < stop:
                yield OTHER, pos, stop, name
            pos = text_at = stop
    if text_at < n:
        yield TEXT, text_at, n, ""


def _tag_end(html: str, pos: int) -> int:
    """The offset of the '>' that ends the tag whose attributes start at ``pos``, or -1."""
    while True:
        m = _ATTRIBUTE.match(html, pos)
        if m is None:
            return -1
        if m.group(1):
            return m.end() - 1
        if m.group(2) == "" or m.group(3) == "":
            return -1  # a quoted value that never closes
        pos = m.end()


def _other_end(html: str, lt: int) -> int:
    """The end of a comment, declaration, processing instruction or bogus end tag at ``lt``."""
    if html.startswith("<!--", lt):
        for abrupt in ("<!-->", "<!--->"):
            if html.startswith(abrupt, lt):
                return lt + len(abrupt)
        close = html.find("-->", lt + 4)
        return close + 3 if close >= 0 else len(html)
    if html.startswith("</>", lt):
        return lt + 3
    close = html.find(">", lt + 2)
    return close + 1 if close >= 0 else len(html)


# --- plain text ----------------------------------------------------------------------------

_PARAGRAPH = frozenset(
    {"p", "div", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"table", "ul", "ol", "pre", "hr"}
)
_LINE = frozenset({"br", "li", "tr", "caption"})
_CELL = frozenset({"td", "th"})


class Node:
    """A tag as written, or a text run decoded, found at ``start:end`` of the markup. For text:
    where its first word lands in the plain text (``at``), how much plain text it makes
    (``size``: its words joined by single spaces) and how much whitespace precedes its first
    word (``lead``)."""

    __slots__ = ("at", "end", "kind", "lead", "name", "raw", "size", "start")

    def __init__(
        self, kind: int, name: str, raw: str, start: int, end: int, at: int = 0, size: int = 0
    ) -> None:
        self.kind, self.name, self.raw = kind, name, raw
        self.start, self.end, self.at, self.size = start, end, at, size
        self.lead = len(raw) - len(raw.lstrip()) if size else len(raw)


def walk(html: str, nodes: list[Node] | None = None) -> str:
    """The plain text of ``html``: a blank line between paragraphs, a line break at ``<br>``,
    list items and table rows, runs of whitespace folded to one space. Appends the tags and
    text runs to ``nodes`` when given (comments and script content are left out of both)."""
    parts: list[str] = []
    length = 0
    owed_break = 0  # newlines owed before the next character
    owed_space = False  # a space owed before the next character
    for kind, start, end, name in tokens(html):
        if kind == TEXT:
            data = unescape(html[start:end])
            words = data.split()
            if words:
                if length:
                    if owed_break:
                        sep = "\n" * owed_break
                    else:
                        sep = " " if owed_space or data[0].isspace() else ""
                    parts.append(sep)
                    length += len(sep)
                core = " ".join(words)
                parts.append(core)
                at, length = length, length + len(core)
                owed_break, owed_space = 0, data[-1].isspace()
            else:
                at, core = length, ""
                owed_space = owed_space or bool(data)
            if nodes is not None:
                nodes.append(Node(TEXT, "", data, start, end, at, len(core)))
            continue
        if kind == OTHER:
            continue
        if name in _PARAGRAPH:
            owed_break = max(owed_break, 2)
        elif name in _LINE:
            owed_break = max(owed_break, 1)
        elif name in _CELL:
            owed_space = True
        if nodes is not None:
            raw = html[start:end] if kind == START else f"</{name}>"
            nodes.append(Node(kind, name, raw, start, end))
    return "".join(parts)


# --- defusing ------------------------------------------------------------------------------

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong"}
    | {"tt", "u"}
)
_BUTTON_SCOPE = frozenset({"button", "table", "td", "th", "caption", "object", "applet", "html"})
# A start tag that implicitly closes an open element: (which elements, where the search stops).
_IMPLIES_END = {
    "p": (frozenset({"p"}), _BUTTON_SCOPE),
    "li": (frozenset({"li"}), frozenset({"ul", "ol", "menu"})),
    "dt": (frozenset({"dt", "dd"}), frozenset({"dl"})),
    "dd": (frozenset({"dt", "dd"}), frozenset({"dl"})),
    "td": (frozenset({"td", "th"}), frozenset({"table", "tr"})),
    "th": (frozenset({"td", "th"}), frozenset({"table", "tr"})),
    "tr": (frozenset({"tr"}), frozenset({"table"})),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup"})),
}
_CLOSES_P = _PARAGRAPH | {"address", "article", "aside", "dl", "fieldset", "figure", "footer"}
_CLOSES_P |= {"header", "main", "menu", "nav", "section", "details", "summary"}
_LOOK_BACK = 8  # how far down the stack an implied end is looked for: bounded, so linear


def defuse(html: str) -> str:
    """``html`` without the start tags (and their end tags) that would open more than
    ``MAX_DEPTH`` elements or leave more than ``MAX_FORMATTING`` formatting elements unclosed;
    and, when unclosed formatting elements would be re-opened more than ``REBUILD_BUDGET`` times
    in all, with every element that closes implicitly given its end tag, so none is re-opened.

    Unchanged when no limit is reached, which is the case for any document written by people.
    The open elements are tracked the way an HTML5 parser mostly tracks them (implied ends of
    paragraphs, list items and cells); where it errs it counts too many, which costs
    formatting, never text.
    """
    tamed, rebuilds = _Defuser(html, strict=False).run()
    if rebuilds <= REBUILD_BUDGET:
        return tamed
    return _Defuser(html, strict=True).run()[0]


class _Defuser:
    def __init__(self, html: str, strict: bool) -> None:
        self.html, self.strict = html, strict
        self.stack: list[tuple[str, bool]] = []  # open elements: name, kept
        self.open_count: dict[str, int] = {}
        self.depth = 0  # kept elements on the stack
        self.formatting: dict[str, list[bool]] = {}  # by name: kept, for each one not yet closed
        self.unclosed = 0  # kept formatting elements not closed by their own end tag
        self.on_stack = 0  # of those, the ones still open; the rest are re-opened at each token
        self.rebuilds = 0
        self.out: list[str] = []
        self.copied = 0

    def run(self) -> tuple[str, int]:
        for kind, start, end, name in tokens(self.html):
            if kind in (TEXT, START):
                self.rebuilds += self.unclosed - self.on_stack
            if kind == START:
                self._start(start, end, name)
            elif kind == END:
                self._end(start, end, name)
        if not self.out:
            return self.html, self.rebuilds
        self.out.append(self.html[self.copied :])
        return "".join(self.out), self.rebuilds

    def _start(self, start: int, end: int, name: str) -> None:
        if name in _FORMATTING:
            keep = self.unclosed < MAX_FORMATTING and self.depth < MAX_DEPTH
            self.formatting.setdefault(name, []).append(keep)
            self.unclosed += keep
            self.on_stack += keep
        elif name in VOID:
            return
        else:
            self._close_implied(start, name)
            keep = self.depth < MAX_DEPTH
        self.stack.append((name, keep))
        self.open_count[name] = self.open_count.get(name, 0) + 1
        self.depth += keep
        if not keep:
            self._write(start, end, "")

    def _end(self, start: int, end: int, name: str) -> None:
        keep = True
        if self.formatting.get(name):
            keep = self.formatting[name].pop()
            self.unclosed -= keep
        if self.open_count.get(name):
            keep = self._pop_to(name, start) and keep
        elif self.strict:
            keep = False  # an end tag that closes nothing
        if not keep:
            self._write(start, end, "")

    def _close_implied(self, at: int, name: str) -> None:
        closes = _IMPLIES_END.get(name) or (_IMPLIES_END["p"] if name in _CLOSES_P else None)
        if closes is None:
            return
        ends, boundary = closes
        for open_name, _ in self.stack[: -_LOOK_BACK - 1 : -1]:
            if open_name in ends:
                self._pop_to(open_name, at)
                return
            if open_name in boundary:
                return

    def _pop_to(self, name: str, at: int) -> bool:
        """Close the open elements down to the last ``name``; whether that one was kept.
        Strict: the elements this closes implicitly get their end tags at ``at``."""
        closed: list[str] = []
        while True:
            popped, kept = self.stack.pop()
            self.open_count[popped] -= 1
            self.depth -= kept
            if popped in _FORMATTING:
                self.on_stack -= kept
            if popped == name:
                break
            if kept and self.strict:
                closed.append(popped)
                if popped in _FORMATTING:
                    self.formatting[popped].pop()
                    self.unclosed -= 1
        if closed:
            self._write(at, at, "".join(f"</{n}>" for n in closed))
        return kept

    def _write(self, start: int, end: int, text: str) -> None:
        """Put ``text`` in place of ``html[start:end]``."""
        self.out.append(self.html[self.copied : start])
        self.out.append(text)
        self.copied = end
