"""Highlighting a long answer with many hits: our linear walk against the per-character scan
it replaced.

    python benchmarks/highlight.py [--sizes 1,5,10] [--hits-per-mb 5000] [--seed 7]

Generates a reproducible answer (fixed seed) of paragraphs in the style of written answers, with
some bold words and links, sanitised as a source's HTML is, of each size in megabytes of plain
text, and a hit on every occurrence of "SEND workforce" (about ``--hits-per-mb`` per megabyte).
For each size it prints one table row: seconds to flatten the HTML to plain text, to highlight
the HTML and the plain text, and to render the one-item e-mail digest that shows it (both
parts), which is what a send does.

The baseline is the previous highlighter: for every character, a scan of every span. It is
quadratic, so it is timed on a 0.1 MB answer only (it takes minutes at 1 MB), beside ours on the
same answer; the last row says whether both gave identical HTML.

Times are the process's CPU time (``time.process_time``): single-threaded, so this is the time
on one core, whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import html as htmllib
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.config import Cadence, Subscription
from watcher.kinds.questions import written_question
from watcher.model import Digest, DigestItem, Event, EventType, Hit, Status, Text
from watcher.render import Renderer
from watcher.text import highlight_html, highlight_text, html_to_text, sanitise_html

PHRASE = "SEND workforce"
SENTENCE = (
    "the Department for Education continues to work with local authorities schools and "
    "colleges to support children and young people with special educational needs and "
    "disabilities through funding of the high needs budget and capital investment in places"
)
WORDS = SENTENCE.split()


def answer_html(megabytes: float, hits_per_mb: int, rng: random.Random) -> str:
    target = int(megabytes * 1_000_000)
    every = max(1, 1_000_000 // max(1, hits_per_mb) // 8)  # words between phrases, about
    paragraphs: list[str] = []
    size = 0
    n = 0
    while size < target:
        words: list[str] = []
        for _ in range(rng.randint(40, 120)):
            n += 1
            word = PHRASE if n % every == 0 else rng.choice(WORDS)
            size += len(word) + 1  # plain text: the word and a space
            if word == PHRASE:
                words.append(word)
                continue
            roll = rng.random()
            if roll < 0.02:
                word = f"<strong>{word}</strong>"
            elif roll < 0.03:
                word = f'<a href="https://www.gov.uk/government/publications/{word}">{word}</a>'
            words.append(word)
        paragraphs.append("<p>" + " ".join(words) + "</p>")
        size += 1  # the blank line
    return sanitise_html("".join(paragraphs))


def spans_of(plain: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = plain.find(PHRASE)
    while at >= 0:
        spans.append((at, at + len(PHRASE)))
        at = plain.find(PHRASE, at + 1)
    return spans


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def render_seconds(answer: Text, spans: list[tuple[int, int]]) -> float:
    record = written_question(
        source="parliament",
        key="1",
        kind="written_question",
        title="Special Educational Needs: Staff",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/1",
        status=Status.ANSWERED,
        uin="1",
        answer=answer,
        date_tabled=date(2024, 1, 8),
        date_answered=date(2024, 1, 15),
    )
    hits = tuple(Hit("answer", s, e, PHRASE) for s, e in spans)
    digest = Digest(
        subscription_id="bench",
        items=(DigestItem(Event(EventType.ANSWERED, record), ("send",), hits),),
        period_end=datetime(2024, 1, 16, 7, 30, tzinfo=UTC),
        cadence="immediate",
    )
    sub = Subscription(
        id="bench",
        rules=("send",),
        channel="mail",
        to=("a@example.org",),
        digest=Cadence(kind="immediate"),
    )
    renderer = Renderer()
    seconds, _ = timed(
        lambda: renderer.email(
            digest, sub, "W <w@example.org>", ZoneInfo("Europe/London"), idempotency_key="k"
        )
    )
    return seconds


# --- the baseline: the previous highlighter ---------------------------------------------------


class _BaselineWalker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[tuple[str, list[int | None]]] = []  # raw, offsets (tags: none)
        self.length = 0
        self.owed_break = 0
        self.owed_space = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append((self.get_starttag_text() or "", []))
        self._owe(tag)

    def handle_endtag(self, tag: str) -> None:
        self.nodes.append((f"</{tag}>", []))
        self._owe(tag)

    def _owe(self, tag: str) -> None:
        if tag in {"p", "div", "ul", "ol", "table", "blockquote", "pre", "hr"}:
            self.owed_break = max(self.owed_break, 2)
        elif tag in {"br", "li", "tr"}:
            self.owed_break = max(self.owed_break, 1)

    def handle_data(self, data: str) -> None:
        offsets: list[int | None] = []
        for ch in data:
            if ch.isspace():
                self.owed_space = True
                offsets.append(None)
                continue
            if self.length:
                self.length += self.owed_break or (1 if self.owed_space else 0)
            self.owed_break, self.owed_space = 0, False
            offsets.append(self.length)
            self.length += 1
        self.nodes.append((data, offsets))


def baseline_highlight_html(html: str, spans: list[tuple[int, int]]) -> str:
    wanted = sorted(spans)
    walker = _BaselineWalker()
    walker.feed(html)
    walker.close()
    out: list[str] = []
    for raw, offsets in walker.nodes:
        if not offsets:
            out.append(raw if raw.startswith("<") else htmllib.escape(raw, quote=False))
            continue
        marks = [0 if o is None else _covering(o, wanted) for o in offsets]
        for i, o in enumerate(offsets):
            if o is None:
                before = next((marks[k] for k in range(i - 1, -1, -1) if offsets[k] is not None), 0)
                after = next(
                    (marks[k] for k in range(i + 1, len(offsets)) if offsets[k] is not None), 0
                )
                marks[i] = before if before and before == after else 0
        i = 0
        while i < len(raw):
            j = i
            while j < len(raw) and marks[j] == marks[i]:
                j += 1
            chunk = htmllib.escape(raw[i:j], quote=False)
            out.append(f"<mark>{chunk}</mark>" if marks[i] else chunk)
            i = j
    return "".join(out)


def _covering(pos: int, spans: list[tuple[int, int]]) -> int:
    for n, (start, end) in enumerate(spans, 1):
        if start <= pos < end:
            return n
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,5,10", help="megabytes of plain text")
    parser.add_argument("--hits-per-mb", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    print(f"{'MB':>5} {'hits':>7} {'to text s':>10} {'html s':>8} {'text s':>8} {'render s':>9}")
    for size in (float(s) for s in args.sizes.split(",")):
        html = answer_html(size, args.hits_per_mb, rng)
        walk_s, plain = timed(lambda html=html: html_to_text(html))
        assert isinstance(plain, str)
        spans = spans_of(plain)
        html_s, _ = timed(lambda html=html, spans=spans: highlight_html(html, spans))
        text_s, _ = timed(lambda plain=plain, spans=spans: highlight_text(plain, spans))
        render_s = render_seconds(Text(html=html, plain=plain), spans)
        print(
            f"{len(plain) / 1e6:>5.1f} {len(spans):>7} {walk_s:>10.2f} {html_s:>8.2f} "
            f"{text_s:>8.2f} {render_s:>9.2f}"
        )

    html = answer_html(0.1, args.hits_per_mb, rng)
    spans = spans_of(html_to_text(html))
    ours_s, ours = timed(lambda: highlight_html(html, spans))
    base_s, base = timed(lambda: baseline_highlight_html(html, spans))
    print(
        f"\n0.1 MB, {len(spans)} hits: baseline (per-character scan) {base_s:.2f} s, "
        f"ours {ours_s:.3f} s; identical HTML: {ours == base}"
    )


if __name__ == "__main__":
    main()
