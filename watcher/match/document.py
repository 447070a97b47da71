"""A document ready for matching: its text fields folded once, and the record's metadata.

Each text field gets a ``scan`` text: the folded norms of its words (``tokens.words``) with
spaces between them and at each end (" special educational needs "). A query word or a
wildcard is then a plain substring search (" workforce ", " therap"), which is what lets one
Aho-Corasick automaton serve every rule (``ruleset``) and lets a rule be confirmed with
``str.find`` instead of per-word Python work.

Most text can be folded in place (``folding.aligned``): every character keeps its offset, so
a word found in ``scan`` is found in the original text too, with no tokenising at all
(``AlignedField``). Anything else goes through ``tokens.words`` (``TokenField``). The two
paths agree word for word (tested).

What a query word accepts is ``literals.word_specs``'s business; evaluating queries is
``evaluate``'s.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Protocol

from watcher.match.folding import aligned
from watcher.match.tokens import APOSTROPHES, in_capitals, words

__all__ = [
    "AlignedField",
    "Document",
    "FieldText",
    "Metadata",
    "TokenField",
    "field_text",
    "fold_text",
]

_RUN = re.compile(r"[^\W_]")
_SEPARATOR = "|"  # between fields in ``Document.combined``; folded text never contains it


def fold_text(text: str) -> str:
    """The folded norms of ``text``'s words, space-separated, with a space at each end."""
    norms = field_text(text).norms()
    return " " + " ".join(norms) + " " if norms else " "


def field_text(text: str) -> FieldText:
    """``text`` ready for matching, by the fast path when it is exact for this text."""
    folded = aligned(text)
    return AlignedField(text, folded) if folded is not None else TokenField(text)


class FieldText:
    """One text field. ``scan`` is its folded text for searching: words as norms, separated by
    spaces, with a space at each end; a key found at offset ``p`` of ``scan`` (the space before
    a word) is the word ``ref(p)``. A word ref is an int that grows along the text; what it
    means is the subclass's business."""

    __slots__ = ("scan", "text")

    text: str
    scan: str

    def ref(self, position: int) -> int:
        raise NotImplementedError

    def norm(self, ref: int) -> str:
        raise NotImplementedError

    def next(self, ref: int) -> int | None:
        """The word after ``ref``, or None at the end of the field."""
        raise NotImplementedError

    def start(self, ref: int) -> int:
        """Offset in ``text`` where the word starts."""
        raise NotImplementedError

    def stem_end(self, ref: int) -> int:
        """Offset in ``text`` where the word ends, not counting a possessive 's."""
        raise NotImplementedError

    def gap(self, before: int, after: int) -> int:
        """How many words lie strictly between two words (``before`` < ``after``)."""
        raise NotImplementedError

    def norms(self) -> list[str]:
        return self.scan.split()

    def end(self, ref: int) -> int:
        """Offset in ``text`` where the word ends, a possessive 's included."""
        stem_end = self.stem_end(ref)
        return stem_end + 2 if self._possessive_at(stem_end) else stem_end

    def possessive(self, ref: int) -> bool:
        return self._possessive_at(self.stem_end(ref))

    def _possessive_at(self, e: int) -> bool:
        text = self.text
        return (
            e + 1 < len(text)
            and text[e] in APOSTROPHES
            and text[e + 1] in "sS"
            and (e + 2 == len(text) or not _is_run_char(text[e + 2]))
        )

    def in_capitals(self, ref: int, length: int | None = None) -> bool:
        """The word (or its first ``length`` characters) is written in capitals."""
        start, end = self.start(ref), self.stem_end(ref)
        return in_capitals(self.text[start : end if length is None else min(end, start + length)])


class AlignedField(FieldText):
    """The fast path: ``scan`` is the folded text itself, padded, one character per character
    of ``text`` (so a word's ref is its offset in ``text``), with runs of spaces between words."""

    __slots__ = ()

    def __init__(self, text: str, aligned: str) -> None:
        self.text = text
        self.scan = " " + aligned + " "

    def ref(self, position: int) -> int:
        return position  # scan has one space more in front than text

    def norm(self, ref: int) -> str:
        return self.scan[ref + 1 : self.scan.index(" ", ref + 1)]

    def next(self, ref: int) -> int | None:
        m = _NEXT.match(self.scan, self.scan.index(" ", ref + 1))
        return None if m is None else m.end() - 2

    def start(self, ref: int) -> int:
        return ref

    def stem_end(self, ref: int) -> int:
        return self.scan.index(" ", ref + 1) - 1

    def gap(self, before: int, after: int) -> int:
        return len(self.scan[self.scan.index(" ", before + 1) : after + 1].split())


_NEXT = re.compile(r" +[^ ]")


class TokenField(FieldText):
    """The exact path, for text the fast path cannot fold in place: ``tokens.words``, with
    ``scan`` the norms joined by single spaces; a word's ref is its index."""

    __slots__ = ("_norms", "_starts", "_stem_ends")

    def __init__(self, text: str) -> None:
        self.text = text
        ws = words(text)
        self._norms = [w.norm for w in ws]
        self._starts = [w.start for w in ws]
        self._stem_ends = [w.end - 2 if w.possessive else w.end for w in ws]
        self.scan = " " + " ".join(self._norms) + " " if ws else " "

    def ref(self, position: int) -> int:
        return self.scan.count(" ", 0, position + 1) - 1

    def norm(self, ref: int) -> str:
        return self._norms[ref]

    def next(self, ref: int) -> int | None:
        return ref + 1 if ref + 1 < len(self._norms) else None

    def start(self, ref: int) -> int:
        return self._starts[ref]

    def stem_end(self, ref: int) -> int:
        return self._stem_ends[ref]

    def gap(self, before: int, after: int) -> int:
        return after - before - 1

    def norms(self) -> list[str]:
        return self._norms


def _is_run_char(c: str) -> bool:
    return _RUN.match(c) is not None or unicodedata.category(c).startswith("M")


class Described(Protocol):
    """What ``Metadata.of`` and ``Document.from_record`` read, as a ``Record`` has it."""

    def fields(self) -> dict[str, str]: ...

    @property
    def facets(self) -> Mapping[str, tuple[str, ...]]: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class Metadata:
    """What metadata filters (``department:``, ``type:``, ``source:`` ...) look at: the
    record's facets (each a tuple of labels: names, and ids as digits), its kind and source."""

    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str | None = None  # as the record has it: "written_question" ...
    source: str | None = None

    @classmethod
    def of(cls, record: Described) -> Metadata:
        """The metadata of a ``Record``, or of anything that carries the same attributes (the
        store's ``MatchInput``, read without decoding a whole record)."""
        return cls(facets=record.facets, kind=record.kind, source=record.source)


class Document:
    """The fields of one item (name → plain text), folded once, with optional metadata.

    ``combined`` is every field's ``joined`` text, separated by ``|``; ``locate`` turns an
    offset into it back into (field index, word index)."""

    __slots__ = ("_parts", "_squeezed", "cache", "combined", "fields", "meta", "names", "offsets")

    def __init__(self, fields: Mapping[str, str], meta: Metadata | None = None) -> None:
        self.names = tuple(fields)
        self.fields = tuple(field_text(text) for text in fields.values())
        self.meta = meta or Metadata()
        self.combined = _SEPARATOR.join(f.scan for f in self.fields)
        self.offsets = list(accumulate((len(f.scan) + 1 for f in self.fields[:-1]), initial=0))
        # Per-document caches, keyed by compiled term and by key (see ``evaluate``).
        self.cache: dict[object, object] = {}
        self._squeezed: str | None = None
        self._parts: list[str] | None = None

    @classmethod
    def from_record(cls, record: Described) -> Document:
        """The document of a ``Record``, or of the store's ``MatchInput`` for one."""
        return cls(record.fields(), Metadata.of(record))

    def positions(self, key: str) -> list[int]:
        """Every offset in ``combined`` where ``key`` starts."""
        cached = self.cache.get(key)
        if cached is None:
            found: list[int] = []
            find, at = self.combined.find, self.combined.find(key)
            while at >= 0:
                found.append(at)
                at = find(key, at + 1)
            self.cache[key] = cached = found
        assert isinstance(cached, list)
        return cached

    def locate(self, position: int) -> tuple[int, int]:
        """(field index, word ref) of the word that starts just after ``position`` (the
        offset of the space before it)."""
        f = bisect_right(self.offsets, position) - 1
        return f, self.fields[f].ref(position - self.offsets[f])

    def squeezed(self) -> str:
        """Every field's norms with single spaces, separated by ``|``: phrases are substrings."""
        if self._squeezed is None:
            # One pass of each over the whole text, then more only for long runs of spaces.
            out = self.combined.replace("   ", " ").replace("  ", " ")
            while "  " in out:
                out = out.replace("  ", " ")
            self._squeezed = out
        return self._squeezed

    def parts(self) -> list[str]:
        """``squeezed()`` cut into its fields, in order."""
        if self._parts is None:
            self._parts = self.squeezed().split(_SEPARATOR)
        return self._parts
