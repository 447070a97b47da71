"""Words of a text with their offsets, and the folding that makes two words "the same".

One tokeniser serves both sides: the parser splits a query term into words with it and the
matcher splits documents with it, so a term and a text agree on what a word is.

- A word is a run of letters and digits (Unicode-aware). Combining marks stay inside the word
  they modify, so decomposed text ("nai\\u0308ve") is one word. Apostrophes, hyphens, underscores
  and all other punctuation separate words.
- Offsets index the ORIGINAL text, so a hit can be highlighted exactly where it was found.
- ``fold`` makes a word case- and accent-insensitive (NFKD, combining marks dropped, casefold).
- ``is_acronym`` says whether a query word is written in capitals (SEND, NHS): such a word only
  matches a text word that is itself in capitals (``Word.caps``).

What a *term* or *phrase* is, and how words are compared, is left to ``query`` and ``matcher``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Python's \w is str.isalnum() plus "_"; removing "_" leaves letters and digits.
_RUN = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: ``text[start:end]``, its folded form, and whether it is in capitals."""

    start: int
    end: int
    norm: str
    caps: bool


def spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of each word of ``text``."""
    if text.isascii():
        return [m.span() for m in _RUN.finditer(text)]
    found: list[tuple[int, int]] = []
    for m in _RUN.finditer(text):
        start, end = m.span()
        end = _skip_marks(text, end)
        if found and found[-1][1] == start:
            # Only combining marks separated this run from the previous one: same word.
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
    return found


def words(text: str) -> list[Word]:
    """Every word of ``text``, in order, with offsets into ``text``."""
    out: list[Word] = []
    for start, end in spans(text):
        raw = text[start:end]
        if raw.isascii():
            out.append(Word(start, end, raw.lower(), raw.isupper()))
        else:
            bare = strip_accents(raw)
            out.append(Word(start, end, bare.casefold(), _in_capitals(bare)))
    return out


def strip_accents(word: str) -> str:
    """``word`` in compatibility-decomposed form without its combining marks; case is kept."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(word: str) -> str:
    """The form two words share when they are the same word up to case and accents."""
    if word.isascii():
        return word.lower()
    return strip_accents(word).casefold()


def is_acronym(word: str) -> bool:
    """True for a word written entirely in capitals with at least two letters (SEND, NHS2)."""
    letters = [c for c in strip_accents(word) if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _in_capitals(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _skip_marks(text: str, pos: int) -> int:
    while pos < len(text) and unicodedata.category(text[pos]).startswith("M"):
        pos += 1
    return pos
