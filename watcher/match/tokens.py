"""Words of a text with their offsets, and the folding that makes two words "the same".

One tokeniser serves both sides: the parser splits a query term into words with it and the
matcher splits documents with it, so a term and a text agree on what a word is.

- A word is a run of letters and digits (Unicode-aware). Combining marks stay inside the word
  they modify, so decomposed text ("nai\\u0308ve") is one word. Hyphens, underscores and all
  other punctuation separate words.
- A possessive belongs to its word: an apostrophe (``'`` or ``’``) followed by ``s`` and then
  by something that is not a letter or digit ends the word before it ("workforce's",
  "children’s"). The word's ``norm`` leaves the ``'s`` out and ``possessive`` records it, so
  ``workforce`` finds "workforce's" while a query that writes ``children's`` can insist on it.
  Any other apostrophe separates words ("o'clock" is two words); a plural possessive
  ("teachers' pay") is the plural followed by punctuation.
- Offsets index the ORIGINAL text, so a hit can be highlighted exactly where it was found.
  ``Word.end`` is the end of the whole word, possessive included.
- ``fold`` makes a word case- and accent-insensitive (NFKD, combining marks dropped, casefold).
- ``is_acronym`` says whether a query word is written in capitals (SEND, NHS): such a word only
  matches a text word that is itself in capitals (``Word.caps``, judged without the ``'s``).
- ``inflections`` lists the forms a bare query word also accepts (plural -s, -es, -ies).

What a *term* or *phrase* is, and how words are compared, is left to ``query`` and ``matcher``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Python's \w is str.isalnum() plus "_"; removing "_" leaves letters and digits.
_RUN = re.compile(r"[^\W_]+")
APOSTROPHES = "'\u2019"
_SIBILANT = ("s", "x", "z", "ch", "sh", "o")
_VOWELS = frozenset("aeiou")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: ``text[start:end]``, its folded form without any possessive ``'s``,
    whether it is in capitals, and whether it ends in a possessive ``'s``."""

    start: int
    end: int
    norm: str
    caps: bool
    possessive: bool = False


def _possessive_at(text: str, end: int) -> bool:
    """True if ``text[end:]`` starts with an apostrophe, ``s`` and then a word boundary."""
    return (
        end + 1 < len(text)
        and text[end] in APOSTROPHES
        and text[end + 1] in "sS"
        and (end + 2 == len(text) or not _is_run_char(text[end + 2]))
    )


def _is_run_char(c: str) -> bool:
    return _RUN.match(c) is not None or unicodedata.category(c).startswith("M")


def spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of each word of ``text``, possessive ``'s`` included."""
    found: list[tuple[int, int]] = []
    ascii_text = text.isascii()
    for m in _RUN.finditer(text):
        start, end = m.span()
        if found and start < found[-1][1]:
            continue  # the s of a possessive already taken by the previous word
        if not ascii_text:
            end = _skip_marks(text, end)
        if found and found[-1][1] == start:
            # Only combining marks separated this run from the previous one: same word.
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
        if _possessive_at(text, end):
            found[-1] = (found[-1][0], end + 2)
    return found


def words(text: str) -> list[Word]:
    """Every word of ``text``, in order, with offsets into ``text``."""
    out: list[Word] = []
    for start, end in spans(text):
        possessive = end - start > 2 and text[end - 2] in APOSTROPHES
        raw = text[start : end - 2] if possessive else text[start:end]
        if raw.isascii():
            out.append(Word(start, end, raw.lower(), raw.isupper(), possessive))
        else:
            bare = strip_accents(raw)
            out.append(Word(start, end, _casefold(bare), _in_capitals(bare), possessive))
    return out


def split_possessive(word: str) -> tuple[str, bool]:
    """A query word without its possessive ``'s``, and whether it had one."""
    if len(word) > 2 and word[-2] in APOSTROPHES and word[-1] in "sS":
        return word[:-2], True
    return word, False


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
    return _casefold(strip_accents(word))


def _casefold(word: str) -> str:
    folded = word.casefold()
    # A few compatibility forms decompose to several words; a norm is always one word.
    return folded if folded.isascii() else "".join(folded.split())


def is_acronym(word: str) -> bool:
    """True for a word written entirely in capitals with at least two letters (SEND, NHS2)."""
    letters = [c for c in strip_accents(word) if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def in_capitals(text: str) -> bool:
    """True if every letter of ``text`` (accents aside) is a capital, and it has one."""
    if text.isascii():
        return text.isupper()  # the same test: ASCII letters are the only cased characters
    return _in_capitals(strip_accents(text))


def inflections(norm: str) -> tuple[str, ...]:
    """The folded forms a bare query word accepts: itself and its plural (-s, -es, -ies).

    Deliberately light: no stemming, no irregular plurals; possessives are handled by the
    tokeniser (``Word.possessive``)."""
    forms = [norm, norm + "s"]
    if norm.endswith(_SIBILANT):
        forms.append(norm + "es")
    if len(norm) > 1 and norm.endswith("y") and norm[-2] not in _VOWELS:
        forms.append(norm[:-1] + "ies")
    return tuple(forms)


def _in_capitals(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _skip_marks(text: str, pos: int) -> int:
    while pos < len(text) and unicodedata.category(text[pos]).startswith("M"):
        pos += 1
    return pos
