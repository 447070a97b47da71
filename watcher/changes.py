"""Which words a correction changed: a word diff of two plain texts, cut into short passages.

A reader of a corrected answer wants the change, not two 350-word texts to compare by eye, so
``changes(old, new)`` returns the changed passages, each with a few words of context either
side; when most of the text changed, one passage holds all of it. ``word_diff`` is the whole
diff, every word included. Pure: no I/O, no markup (rendering is left to ``render``).

Texts are compared as words and punctuation marks, so whitespace never counts (a re-wrapped
paragraph is no change) and typographic variants (curly and straight quotes, dashes) compare
equal: a source re-typesetting its text must not drown the one word the minister changed. A
real punctuation change ("," to ";") is a change of that mark alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from enum import StrEnum

CONTEXT = 6  # words of context either side of a change
MIN_SKIP = 4  # never hide fewer words than this behind "…": show them instead

# One character for one, so offsets into the folded text are offsets into the original.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)
# A word keeps its inner joiners ("1,000", "10.5", "department's", "co-operate"); any other
# non-space character is a token of its own, so "work." differs from "work;" by the mark only.
_TOKEN = re.compile(r"\w+(?:[.,'\-/]\w+)*|\S")
_WORD = re.compile(r"\w")


class Kind(StrEnum):
    SAME = "same"
    REMOVED = "removed"  # in the old text only
    ADDED = "added"  # in the new text only


@dataclass(frozen=True)
class Piece:
    """A run of words of one kind, as its own text has them.

    ``space`` is the whitespace before the piece in its own text: ``""`` (a mark attached to
    the word before), ``" "``, or ``"\\n"`` / ``"\\n\\n"`` for a line or paragraph break. Inside
    ``text`` whitespace is normalised the same way.
    """

    kind: Kind
    text: str
    space: str


@dataclass(frozen=True)
class Passage:
    """Consecutive pieces, at least one of them changed.

    ``opens_mid`` / ``closes_mid``: words of the same paragraph are left out before / after
    the passage (where a reader expects "…"). A passage that starts at the start of a paragraph
    does not open mid, even when earlier paragraphs are left out.
    """

    pieces: tuple[Piece, ...]
    opens_mid: bool
    closes_mid: bool


@dataclass(frozen=True)
class Change:
    passages: tuple[Passage, ...]  # in text order, never overlapping, never empty
    whole: bool  # nothing is left out: the single passage is the whole diff


def words(text: str) -> tuple[str, ...]:
    """The words and punctuation marks of ``text`` as they are compared (typography folded)."""
    return tuple(t.key for t in _tokens(text))


def word_diff(old: str, new: str) -> tuple[Piece, ...]:
    """Every word of both texts in order: unchanged ones once, changed ones as REMOVED then
    ADDED. The SAME and REMOVED pieces spell ``old``'s words; the SAME and ADDED ones ``new``'s.
    """
    a, b = _tokens(old), _tokens(new)
    return tuple(p for block in _blocks(a, b) for p in block.pieces(a, b))


def changes(old: str, new: str, context: int = CONTEXT) -> Change | None:
    """The changed passages of ``new`` against ``old``, or None when their words are the same.

    Each passage has up to ``context`` words of context either side, never crossing a line or
    paragraph break; changes closer together than that share a passage, and fewer than
    ``MIN_SKIP`` words are never left out.
    """
    a, b = _tokens(old), _tokens(new)
    blocks = _blocks(a, b)
    if all(block.same for block in blocks):
        return None
    passages: list[Passage] = []
    current: list[Piece] = []
    opens_mid, whole = False, True
    for i, block in enumerate(blocks):
        if not block.same:
            current.extend(block.pieces(a, b))
            continue
        run = block.run(a, b)
        after_change, before_change = i > 0, i + 1 < len(blocks)
        starts_line = before_change and blocks[i + 1].starts_line(a, b)
        head = _head(run, context) if after_change else 0
        tail = _tail(run, context, starts_line) if before_change else len(run)
        if head >= tail or _count(run[head:tail]) < MIN_SKIP:
            current.extend(block.pieces(a, b))
            continue
        whole = False
        if after_change:
            current.extend(_same(run[:head]))
            closes_mid = "\n" not in run[head].space
            passages.append(Passage(tuple(current), opens_mid, closes_mid))
        current = _same(run[tail:])
        opens_mid = tail > 0 and (
            "\n" not in run[tail].space if tail < len(run) else not starts_line
        )
    if current:  # the last change, and the context before it
        passages.append(Passage(tuple(current), opens_mid, closes_mid=False))
    return Change(tuple(passages), whole)


# --- tokens and blocks ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str  # as written
    key: str  # as compared
    space: str  # normalised whitespace before it: "", " ", "\n" or "\n\n"
    word: bool  # a word rather than a punctuation mark


def _tokens(text: str) -> list[_Token]:
    folded = text.translate(_FOLD)
    out: list[_Token] = []
    pos = 0
    for m in _TOKEN.finditer(folded):
        start, end = m.span()
        out.append(
            _Token(
                text=text[start:end],
                key=m.group(),
                space=_space(text[pos:start]) if out else "",
                word=bool(_WORD.match(m.group())),
            )
        )
        pos = end
    return out


def _space(gap: str) -> str:
    if not gap:
        return ""
    breaks = len(f"x{gap}x".splitlines()) - 1
    return "\n\n" if breaks > 1 else "\n" if breaks else " "


@dataclass(frozen=True)
class _Block:
    """Old tokens ``o1:o2`` against new tokens ``n1:n2``: the same words, or a change."""

    same: bool
    o1: int
    o2: int
    n1: int
    n2: int

    def pieces(self, a: Sequence[_Token], b: Sequence[_Token]) -> list[Piece]:
        if self.same:
            return _same(self.run(a, b))
        out = []
        if self.o2 > self.o1:
            out.append(_piece(Kind.REMOVED, a[self.o1 : self.o2]))
        if self.n2 > self.n1:
            added = _piece(Kind.ADDED, b[self.n1 : self.n2])
            if out and self.n1 == 0:  # both start the text: keep "[-old-] {+new+}" apart
                added = Piece(Kind.ADDED, added.text, " ")
            out.append(added)
        return out

    def run(self, a: Sequence[_Token], b: Sequence[_Token]) -> list[_Token]:
        """The new tokens of an unchanged block."""
        run = list(b[self.n1 : self.n2])
        if run and not run[0].space and a[self.o1].space:
            # The new text starts with it, after words removed: keep "[-old-] same" apart.
            run[0] = replace(run[0], space=a[self.o1].space)
        return run

    def starts_line(self, a: Sequence[_Token], b: Sequence[_Token]) -> bool:
        """Whether this change begins a line, so the words before it are not its context."""
        firsts = [side[i] for side, i, j in ((a, self.o1, self.o2), (b, self.n1, self.n2)) if j > i]
        return any("\n" in t.space for t in firsts)


# Above this many words in the part of an answer that differs, the words are not aligned one
# by one (SequenceMatcher is quadratic: two 40,000-word answers took 20-40 s and would hold a
# send): the differing part is shown as removed and added whole.
MAX_ALIGNED = 20_000


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher.get_opcodes`` of ``a`` and ``b``, with what they begin and end with
    alike set aside first (linear), and no alignment of a middle too long to align."""
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    ea, eb = len(a) - end, len(b) - end
    out: list[tuple[str, int, int, int, int]] = []
    if start:
        out.append(("equal", 0, start, 0, start))
    if max(ea - start, eb - start) > MAX_ALIGNED:
        out.append(("replace", start, ea, start, eb))
    elif ea > start or eb > start:
        matcher = SequenceMatcher(None, a[start:ea], b[start:eb], autojunk=False)
        out += [
            (tag, o1 + start, o2 + start, n1 + start, n2 + start)
            for tag, o1, o2, n1, n2 in matcher.get_opcodes()
        ]
    if end:
        out.append(("equal", ea, len(a), eb, len(b)))
    return out


def _blocks(a: Sequence[_Token], b: Sequence[_Token]) -> list[_Block]:
    blocks: list[_Block] = []
    for tag, o1, o2, n1, n2 in _opcodes([t.key for t in a], [t.key for t in b]):
        block = _Block(tag == "equal", o1, o2, n1, n2)
        if blocks and not block.same and not blocks[-1].same:
            block = _join(blocks.pop(), block)
        blocks.append(block)
    return _absorb(blocks)


def _absorb(blocks: list[_Block]) -> list[_Block]:
    # A word or two left unchanged between two changes (a "the", a comma) splits one rewrite
    # into fragments that are hard to read; fold such an equality into the change around it
    # when it is shorter than the changes on either side.
    def size(block: _Block) -> int:
        return max(block.o2 - block.o1, block.n2 - block.n1)

    i = 1
    while i + 1 < len(blocks):
        before, here, after = blocks[i - 1], blocks[i], blocks[i + 1]
        if here.same and not before.same and not after.same:
            length = here.n2 - here.n1
            if length < size(before) and length < size(after):
                blocks[i - 1 : i + 2] = [_join(_join(before, here), after)]
                i = max(1, i - 1)
                continue
        i += 1
    return blocks


def _join(first: _Block, second: _Block) -> _Block:
    return _Block(False, first.o1, second.o2, first.n1, second.n2)


def _piece(kind: Kind, tokens: Sequence[_Token]) -> Piece:
    text = "".join((t.space if n else "") + t.text for n, t in enumerate(tokens))
    return Piece(kind, text, tokens[0].space)


def _same(tokens: Sequence[_Token]) -> list[Piece]:
    return [_piece(Kind.SAME, tokens)] if tokens else []


# --- context -------------------------------------------------------------------------------


def _head(run: Sequence[_Token], context: int) -> int:
    """How many tokens of ``run`` to show after a change."""
    end, count = 0, 0
    while end < len(run) and "\n" not in run[end].space:
        if count == context and run[end].space:  # what follows is not attached to the last word
            break
        count += run[end].word
        end += 1
    line_end = end
    while line_end < len(run) and "\n" not in run[line_end].space:
        line_end += 1
    return line_end if _count(run[end:line_end]) < MIN_SKIP else end


def _tail(run: Sequence[_Token], context: int, change_starts_line: bool) -> int:
    """Where in ``run`` to start showing context before a change."""
    if change_starts_line:
        return len(run)
    start, count = len(run), 0
    while start > 0 and count < context:
        start -= 1
        count += run[start].word
        if "\n" in run[start].space:  # it begins a line: nothing before it is context
            return start
    while 0 < start < len(run) and run[start].space == "":  # a mark goes with the word before
        start -= 1
    line_start = start
    while line_start > 0 and "\n" not in run[line_start].space:
        line_start -= 1
    return line_start if _count(run[line_start:start]) < MIN_SKIP else start


def _count(tokens: Sequence[_Token]) -> int:
    return sum(t.word for t in tokens)
