"""What the chat formats (``slack``, ``teams``, ``discord``, ``apprise``) share. Pure.

Each chat format renders the digest's subject (``subject.txt.j2``), a header and one text per
item from its own templates (``<format>/header.md.j2``, ``<format>/item.md.j2``), then builds
the JSON its peer takes around those texts, in Python, from data. What differs between the
peers' markup is a ``Dialect``: how user text is escaped, how a hit, a removed and an added word
are shown, how a link is written, and which runs of markup a cut must not split. A dialect
gives templates their filters (``slack``, ``slack_marked``, ``slack_link``, ``slack_change``
...), so a template escapes by naming its dialect.

A long digest is several messages (``pack``): items go into a part while the part the peer
would receive stays within every limit, measured on the part as built; an item too long for a
message of its own is cut where its markup allows, with a link to the full item
(``shorten``). Nothing here knows a peer's limits: each format says them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

from watcher.changes import Change, Kind
from watcher.model import Message
from watcher.render.formats import MAX_SUBJECT, DigestContext, Licence, Templates, one_line
from watcher.render.items import TEXT_MARKS, ItemView, safe_url
from watcher.text import scrub

U = TypeVar("U")
OPEN, CLOSE = TEXT_MARKS  # how ItemView's *_text fields mark a hit: [[SEND workforce]]
ELLIPSIS = "…"
HEADER_CHARS = 1000  # a header template's text is cut to this: it is one line or two


def utf16(value: str) -> int:
    """How long ``value`` is to a peer that counts UTF-16 code units (JavaScript's length):
    never less than its characters, so a limit kept in these units is kept in characters."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def utf8(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def to_json(value: Any) -> str:
    """A body as the peer receives it: compact JSON of ``value`` with every string scrubbed
    (a lone surrogate from a source cannot be encoded, a control character has no business in
    a chat message)."""
    return json.dumps(_scrubbed(value), ensure_ascii=False, separators=(",", ":"))


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def href(url: str) -> str:
    """``url`` with the characters that would end a Markdown link early (spaces, brackets of
    the wrong kind) percent-escaped."""
    return quote(url, safe=":/?#[]@!$&*+,;=%~-._")


def markdown_link(url: str, label: str) -> str:
    """A Markdown link; ``label`` is already escaped for its dialect."""
    return f"[{label}]({href(url)})"


def part_label(first: int, last: int, total: int) -> str:
    """``items 1–10 of 120``, or ``item 7 of 120`` for a part of one item."""
    if first == last:
        return f"item {first} of {total}"
    return f"items {first}–{last} of {total}"


# --- dialects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """One peer's markup. ``escape`` makes user text inert (no markup, no mention); the
    others take text already escaped. ``atoms`` matches what a cut must not split (an
    escape, an entity, a link, an emphasised run)."""

    name: str
    escape: Callable[[str], str]
    bold: Callable[[str], str]
    removed: Callable[[str], str]
    added: Callable[[str], str]
    link_to: Callable[[str, str], str]  # (url, escaped label) → link
    atoms: re.Pattern[str]

    def filters(self) -> dict[str, Callable[..., str]]:
        """What templates call: ``{{ value | slack }}``, ``{{ item.answer_text |
        slack_marked(600) }}``, ``{{ item.url | slack_link(item.record.title) }}``,
        ``{{ item.change | slack_change(600) }}``."""
        n = self.name
        return {
            n: self.text,
            f"{n}_marked": self.marked,
            f"{n}_link": self.link,
            f"{n}_change": self.change,
        }

    def text(self, value: object) -> str:
        """User text, escaped (None is "")."""
        return "" if value is None else self.escape(scrub(str(value)))

    def link(self, url: object, label: object) -> str:
        """A link to ``url`` reading ``label`` (one line); the label alone when there is no
        URL, or one that is not http(s) (a template may pass a source's raw address)."""
        text = self.text(" ".join(str(label or "").split()))
        href = safe_url(str(url)) if url else None
        if href is None:
            return text
        return self.link_to(href, text or self.text(href))

    def marked(self, value: object, limit: int = 0) -> str:
        """A text whose hits are marked ``[[...]]`` (``ItemView``'s ``*_text`` fields), escaped,
        with the hits emphasised. With ``limit``, an excerpt of about that many characters as
        one paragraph: from the start, or from shortly before the first hit when the start
        has none, with "…" where words are left out."""
        if value is None:
            return ""
        pieces = _marks(scrub(str(value)))
        if limit > 0:
            pieces = _excerpt(pieces, limit)
        return "".join(self._emphasis(t) if hit else self.escape(t) for t, hit in pieces)

    def change(self, value: object, limit: int = 0) -> str:
        """A correction's changed passages (``item.change``), escaped, removed and added words
        shown as the dialect shows them, one passage a line; with ``limit``, the passages
        that fit in about that many characters, then "…"."""
        if not isinstance(value, Change):
            return ""
        lines: list[str] = []
        used = 0
        for passage in value.passages:
            out = [ELLIPSIS if passage.opens_mid else ""]
            for n, piece in enumerate(passage.pieces):
                space = " " if n and piece.space else ""
                words = self.escape(" ".join(scrub(piece.text).split()))
                if piece.kind is Kind.REMOVED:
                    words = self.removed(words)
                elif piece.kind is Kind.ADDED:
                    words = self.added(words)
                out.append(space + words)
            out.append(ELLIPSIS if passage.closes_mid else "")
            line = "".join(out)
            if limit and used + len(line) > limit:
                if not lines:  # one passage longer than the limit: what fits of it
                    lines.append(cut(line, limit, self, len, f" {ELLIPSIS}"))
                else:
                    lines.append(ELLIPSIS)
                break
            lines.append(line)
            used += len(line)
        return "\n".join(lines)

    def _emphasis(self, text: str) -> str:
        # Emphasis does not survive a line break or an edge of whitespace in any dialect.
        out = []
        for line in text.split("\n"):
            core = line.strip()
            if not core:
                out.append(line)
                continue
            lead, trail = line[: len(line) - len(line.lstrip())], line[len(line.rstrip()) :]
            out.append(lead + self.bold(self.escape(core)) + trail)
        return "\n".join(out)

    def tail(self, url: str | None, site: str) -> str:
        """What ends an item cut short: where to read the rest."""
        if not url:
            return f" {ELLIPSIS} (cut short)"
        return f" {ELLIPSIS} " + self.link_to(url, self.escape(f"Read the full item on {site}"))


def _marks(value: str) -> list[tuple[str, bool]]:
    """``value`` as pieces, each a hit or not; an unclosed mark is text."""
    out: list[tuple[str, bool]] = []
    pos = 0
    while True:
        start = value.find(OPEN, pos)
        end = value.find(CLOSE, start + len(OPEN)) if start >= 0 else -1
        if start < 0 or end < 0:
            break
        if start > pos:
            out.append((value[pos:start], False))
        if end > start + len(OPEN):
            out.append((value[start + len(OPEN) : end], True))
        pos = end + len(CLOSE)
    if pos < len(value):
        out.append((value[pos:], False))
    return out


def _excerpt(pieces: list[tuple[str, bool]], limit: int) -> list[tuple[str, bool]]:
    # One paragraph: runs of whitespace fold to one space, across pieces too.
    segs: list[tuple[str, bool]] = []
    after_space = True  # drops leading whitespace
    for t, hit in pieces:
        folded = _SPACE.sub(" ", t)
        if after_space:
            folded = folded.lstrip(" ")
        if folded:
            segs.append((folded, hit))
            after_space = folded.endswith(" ")
    full = "".join(t for t, _ in segs).rstrip()
    start, end = 0, len(full)
    if len(full) > limit:
        offsets = [0]
        for t, _ in segs:
            offsets.append(offsets[-1] + len(t))
        first_hit = next((o for o, (_, hit) in zip(offsets, segs, strict=False) if hit), 0)
        if first_hit > limit // 2:
            # Start a few words before the first hit, at a word; nearer the end of the text
            # when the excerpt would run out of words.
            begin = min(first_hit - limit // 4, len(full) - limit)
            space = full.find(" ", begin, first_hit)
            start = space + 1 if space >= 0 else first_hit
        end = min(len(full), start + limit)
        if end < len(full):
            space = full.rfind(" ", start, end)
            end = space if space > start + limit // 2 else end
    out: list[tuple[str, bool]] = [(ELLIPSIS, False)] if start > 0 else []
    pos = 0
    for t, hit in segs:
        a, b = max(start, pos), min(end, pos + len(t))
        if a < b:
            out.append((t[a - pos : b - pos], hit))
        pos += len(t)
    if end < len(full):
        if out:
            out[-1] = (out[-1][0].rstrip(), out[-1][1])
        out.append((ELLIPSIS, False))
    return out


_SPACE = re.compile(r"\s+")
MAX_ATOM = 8000  # no atom of any dialect is longer: how far back a cut looks for one


# --- cutting -------------------------------------------------------------------------------


def cut_at(text: str, limit: int, atoms: re.Pattern[str], measure: Callable[[str], int]) -> int:
    """Where to cut ``text`` to keep at most ``limit`` (by ``measure``): the whole text when it
    fits, else at the last line break, or else the last space, before the limit that splits no
    atom (or anywhere before the limit when there is none). 0 only when not one character
    fits. ``measure`` is never less than the number of characters (``len``, ``utf16``,
    ``utf8``), so only the first ``limit`` characters need measuring."""
    if len(text) <= limit and measure(text) <= limit:
        return len(text)
    lo, hi = 0, min(len(text), limit)  # the longest prefix within the limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    hard = lo
    spans = [
        (m.start(), m.end())
        for m in atoms.finditer(text, max(0, hard - MAX_ATOM), min(len(text), hard + MAX_ATOM))
        if m.start() < hard
    ]

    def whole(p: int) -> bool:
        return not any(a < p < b for a, b in spans)

    for sep in ("\n", " "):
        p = text.rfind(sep, 0, hard + 1)
        while p > hard // 2 and not whole(p):
            p = text.rfind(sep, 0, p)
        if p > hard // 2:
            return p
    p = hard
    while p > 0 and not whole(p):
        p -= 1
    return p if p > 0 else hard


def cut(text: str, limit: int, dialect: Dialect, measure: Callable[[str], int], tail: str) -> str:
    """``text`` within ``limit``: whole, or cut by ``cut_at`` with ``tail`` after it."""
    if len(text) <= limit and measure(text) <= limit:
        return text
    room = max(0, limit - measure(tail))
    kept = text[: cut_at(text, room, dialect.atoms, measure)].rstrip()
    return kept + tail if kept else tail.lstrip()


def chunks(text: str, limit: int, dialect: Dialect, measure: Callable[[str], int]) -> list[str]:
    """``text`` in pieces of at most ``limit``, split at line breaks where it can."""
    out: list[str] = []
    rest = text.strip()
    while rest:
        p = max(1, cut_at(rest, limit, dialect.atoms, measure))
        out.append(rest[:p].rstrip())
        rest = rest[p:].strip()
    return [c for c in out if c]


# --- items and parts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One item as a chat format shows it: the text its template made, and what a cut needs."""

    view: ItemView
    text: str

    @property
    def number(self) -> int:
        return self.view.number


@dataclass(frozen=True)
class Rendered:
    """A digest's texts from a chat format's templates, ready to be packed into parts."""

    subject: str
    header: str
    units: tuple[Unit, ...]
    licences: tuple[Licence, ...]


def tidy(text: str) -> str:
    """A template's output as lines without trailing spaces, and no blank line: a chat
    message is compact, and each format sets its lines apart in its own way."""
    return "\n".join(line.rstrip() for line in scrub(text).splitlines() if line.strip())


def render(ctx: DigestContext, templates: Templates, dialect: Dialect) -> Rendered:
    """The subject, the header and each item's text from the format's templates."""
    context = ctx.template_context()
    subject = one_line(templates.template("subject.txt.j2", context), MAX_SUBJECT)
    context["subject"] = subject
    folder = dialect.name
    header = tidy(templates.template(f"{folder}/header.md.j2", context))
    header = cut(header, HEADER_CHARS, dialect, len, ELLIPSIS)
    units = []
    for item in ctx.items:
        text = tidy(templates.template(f"{folder}/item.md.j2", {**context, "item": item}))
        # A template that says nothing of an item still names and links it.
        units.append(Unit(item, text or dialect.link(item.url, item.record.title)))
    return Rendered(subject, header, tuple(units), ctx.licences)


def assemble(
    ctx: DigestContext,
    templates: Templates,
    dialect: Dialect,
    build: Callable[[Rendered, str, Sequence[Unit]], Any],
    within: Callable[[Any], bool],
) -> Message:
    """A chat format's message: the digest rendered, packed into parts that are each
    ``within`` the peer's limits as ``build`` makes them (from the texts, a part's label and
    its units), one body per part."""
    r = render(ctx, templates, dialect)
    total = len(r.units)

    def fits(units: Sequence[Unit]) -> bool:
        # Measured with the label a part of several would carry, so dropping it for a digest
        # of one part only makes the body smaller.
        label = part_label(units[0].number, units[-1].number, total) if units else ""
        return within(build(r, label, units))

    parts = pack(r.units, fits, lambda u: shorten(u, lambda x: fits([x]), dialect))
    bodies = tuple(to_json(build(r, label, units)) for label, units in labelled(parts, total))
    return Message(ctx.key, subject=r.subject, bodies=bodies)


def pack(
    units: Sequence[U], fits: Callable[[Sequence[U]], bool], shorten: Callable[[U], U]
) -> list[list[U]]:
    """``units`` in order as parts that each ``fits``; a unit that does not fit alone is
    ``shorten``-ed (which must make it fit). One empty part for no units."""
    parts: list[list[U]] = []
    current: list[U] = []
    for unit in units:
        if fits([*current, unit]):
            current.append(unit)
            continue
        if current:
            parts.append(current)
        current = [unit] if fits([unit]) else [shorten(unit)]
    if current or not parts:
        parts.append(current)
    return parts


def shorten(
    unit: Unit,
    fits_alone: Callable[[Unit], bool],
    dialect: Dialect,
    measure: Callable[[str], int] = len,
) -> Unit:
    """``unit`` with its text cut (and a link to the full item) as little as lets it fit in
    a part of its own. The text cut to nothing must fit: each format keeps the rest of an
    item (a title, say) within its limits."""
    tail = dialect.tail(unit.view.url, unit.view.site)

    def at(n: int) -> Unit:
        return replace(unit, text=cut(unit.text, n, dialect, measure, tail))

    lo, hi = 0, measure(unit.text)
    best = at(0)
    if not fits_alone(best):
        # Not even the link fits: the bare link, which every format has room for.
        return replace(unit, text=dialect.link(unit.view.url, unit.view.record.title[:200]))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = at(mid)
        if fits_alone(candidate):
            lo, best = mid, candidate
        else:
            hi = mid - 1
    return best


def labelled(parts: Sequence[Sequence[Unit]], total: int) -> Iterable[tuple[str, Sequence[Unit]]]:
    """Each part with its label (``items 1–10 of 120``); "" when the digest is one part."""
    for part in parts:
        if len(parts) == 1 or not part:
            yield "", part
        else:
            yield part_label(part[0].number, part[-1].number, total), part
