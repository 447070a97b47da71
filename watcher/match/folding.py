"""Folding a whole text in place: one character in, one character out, offsets kept.

``aligned(text)`` returns ``text`` with every word character replaced by its folded form
(lower case, accents stripped: "É" → "e", "Ø" → "ø") and every other character by a space, or
None when that cannot be done exactly for this text (a letter that folds to two, such as "ß",
or a combining mark), in which case the caller tokenises it with ``tokens.words`` instead. A
possessive ``'s`` is blanked too, as ``tokens`` leaves it out of a word's norm.

The work is done by ``bytes.translate`` over Latin-1, after mapping a few typographic
characters (’ “ ” – £ ...) and any other character that folds to one Latin-1 character; so the
common case costs a few passes in C rather than a Python step per word. ``tokens`` stays the
definition; the tests check that the two agree word for word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from watcher.match.tokens import APOSTROPHES, fold

__all__ = ["aligned"]

_BAD = 1  # a byte value no folded character takes: "this text needs the exact path"
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xff]")
_RUN = re.compile(r"[^\W_]")


def _is_word_char(c: str) -> bool:
    return _RUN.match(c) is not None


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str | None:
    """The one character ``c`` folds to in place (a space for a separator), or None."""
    if c in APOSTROPHES:
        return "'"
    if unicodedata.category(c).startswith("M"):
        return None  # a combining mark joins words; leave it to the tokeniser
    if not _is_word_char(c):
        return " "
    folded = fold(c)
    if len(folded) == 1 and ord(folded) < 256 and _is_word_char(folded) and fold(folded) == folded:
        return folded
    return None


def _table() -> bytes:
    out = bytearray()
    for b in range(256):
        folded = _fold_char(chr(b))
        out.append(_BAD if folded is None else ord(folded))
    return bytes(out)


_TABLE = _table()
# Bytes that are part of a word once folded (everything but space and apostrophe).
_WORD = [b not in (32, 39) for b in range(256)]
# Typographic characters common in Hansard, mapped up front: most text is then plain Latin-1.
_TYPOGRAPHIC = tuple(
    (c, _fold_char(c) or " ") for c in "\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u2022\u20ac"
)


def aligned(text: str) -> str | None:
    """``text`` folded in place (see the module docstring), or None."""
    if text.isascii():
        data = text.encode("ascii")
    else:
        for c, plain in _TYPOGRAPHIC:
            if c in text:
                text = text.replace(c, plain)
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            for c in set(_BEYOND_LATIN1.findall(text)):
                one = _fold_char(c)
                if one is None:
                    return None
                text = text.replace(c, one)
            data = text.encode("latin-1")
    folded = data.translate(_TABLE)
    if _BAD in folded:
        return None
    at = folded.find(b"'")
    if at < 0:
        return folded.decode("latin-1")
    # A possessive 's belongs to its word but not to its norm; other apostrophes separate.
    buf = bytearray(folded)
    n = len(buf)
    while at >= 0:
        if (
            at > 0
            and _WORD[buf[at - 1]]
            and at + 1 < n
            and buf[at + 1] == 115  # s
            and (at + 2 == n or not _WORD[buf[at + 2]])
        ):
            buf[at + 1] = 32
        buf[at] = 32
        at = folded.find(b"'", at + 1)
    return buf.decode("latin-1")
