"""Matching throughput: our prefiltered RuleSet against a naive per-rule regex baseline.

    python benchmarks/matching.py [--sizes 1000,10000,100000] [--docs 1000] [--seed 7]

Generates a reproducible workload (fixed seed) from ``vocabulary``: rules of realistic policy
vocabulary (most one to three words, some phrases, a few long boolean queries with OR, NOT and
NEAR, some wildcards, acronyms, field and metadata filters and synonym sets) and answers of
about 2 KB written from the same vocabulary in the style of written answers. For each rule
count it prints one table row: build time and memory (RSS growth while building) for the
RuleSet and for the baseline, documents per second for both, the speed-up, and whether both
found identical (document, rule) match sets on the documents the baseline was timed on.

Our *docs/s* is ``RuleSet.matching``: which rules match, as the baseline decides it. *docs/s
with hits* is ``RuleSet.match_document`` on the same documents, which also works out the hits
(offsets) of every match, as the service does before storing matches; its match sets must be
the same too.

Times are the process's CPU time (``time.process_time``): the benchmark is single-threaded, so
this is the time on one core, whatever else the machine is doing.

The baseline is what one would write first: for every rule, one compiled regex per term,
evaluated on every document with the rule's AND/OR/NOT. With many rules it is slow, so it is
timed on a subsample of the documents and its rate extrapolated; the table says how many.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vocabulary import (
    ADJECTIVES,
    COMPANIES,
    DEPARTMENTS,
    GENERIC,
    INSTITUTIONS,
    ORGANISATIONS,
    PEOPLE,
    PLACES,
    QUALIFIERS,
    SENTENCES,
    STEMS,
    TOPIC_ACRONYMS,
    TOPIC_BODIES,
    TOPICS,
)

from watcher.kinds.questions import question_facets
from watcher.match import (
    And,
    Document,
    Field,
    Meta,
    Metadata,
    Near,
    Node,
    Not,
    Or,
    Rule,
    RuleSet,
    Synonym,
    Term,
    parse,
)
from watcher.match.literals import WordSpec, word_specs
from watcher.match.tokens import strip_accents
from watcher.model import EventType, Person, QuestionBody, Status

SYNONYMS = {
    "SEND": ["special educational needs", "SEN", '"special educational needs and disabilities"'],
    "NHS": ["NHS", "National Health Service", "NHS England"],
    "boats": ["small boats", "Channel crossings", "asylum seekers"],
    "water": ["sewage discharges", "storm overflows", "water compan*"],
}
MONTHS = "January February March April May June July September October November".split()  # noqa: SIM905
ANSWERED = frozenset({EventType.ANSWERED})
INTEREST = 0.6  # Zipf exponent of subscribers' interest in terms (see docs/matching.md)


# --- workload ---------------------------------------------------------------------------------


class Workload:
    """Rules and answers drawn from one vocabulary.

    Subscribers' interest in a term (how many rules name it) and how often answers use it are
    both Zipf-like but independent: each follows its own seeded ranking of the terms. An
    answer is about one subject: it keeps coming back to a handful of that topic's terms, names
    a place and an institution or company or two, and is otherwise boilerplate."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.topics = list(TOPICS)
        self.base = [t for terms in TOPICS.values() for t in terms]
        self.entities = [
            form.format(place=place) for place in PLACES for form in INSTITUTIONS
        ] + COMPANIES
        interest = random.Random(seed ^ 0x5EED)
        self.popular_base = interest.sample(self.base, len(self.base))
        self.popular_entities = interest.sample(self.entities, len(self.entities))
        self.popular_places = interest.sample(PLACES, len(PLACES))
        self.acronyms = sorted({a for acronyms in TOPIC_ACRONYMS.values() for a in acronyms})

    def zipf(self, items: Sequence[str], s: float = 1.0) -> str:
        # Rank r is drawn with weight 1/r^s.
        return self.rng.choices(items, cum_weights=_weights(len(items), s))[0]

    def interest(self) -> str:
        return _quoted(self.zipf(self.popular_base, INTEREST))

    def rule(self) -> str:
        r, rng = self.rng.random(), self.rng
        if r < 0.25:
            return self.interest()
        if r < 0.40:
            qualifier = rng.choice(QUALIFIERS)
            return _quoted(f"{self.zipf(self.popular_base, INTEREST)} {qualifier}")
        if r < 0.50:
            return _quoted(self.zipf(self.popular_entities, INTEREST))
        if r < 0.60:
            return f"{self.interest()} {_quoted(self.zipf(self.popular_places, INTEREST))}"
        if r < 0.65:
            return rng.choice(self.acronyms)
        if r < 0.70:
            return f"{rng.choice(self.acronyms)} {self.interest()}"
        if r < 0.76:
            return f"{self.interest()} OR {self.interest()}"
        if r < 0.80:
            return rng.choice(STEMS)
        if r < 0.84:
            return f"{self.interest()} -{rng.choice(GENERIC)}"
        if r < 0.88:
            return (
                f"{self.interest()} NEAR/{rng.randint(2, 10)} {rng.choice(QUALIFIERS).split()[0]}"
            )
        if r < 0.92:
            a, b, c, d = (self.interest() for _ in range(4))
            near = rng.choice(QUALIFIERS).split()[0]
            return f"({a} OR {b} OR {c}) AND ({d} NEAR {near}) NOT {self.interest()}"
        if r < 0.96:
            return f"{rng.choice(['heading', 'question', 'answer'])}:{self.interest()}"
        if r < 0.98:
            meta = rng.choice(
                [
                    f"department:{rng.randint(1, 19)}",
                    "house:lords",
                    "house:commons",
                    "type:question",
                ]
            )
            return f"{self.interest()} {meta}"
        return f"~{rng.choice(list(SYNONYMS))} {rng.choice(QUALIFIERS)}"

    def document(self) -> tuple[dict[str, str], Metadata]:
        rng = self.rng
        topic = rng.choice(self.topics)
        subject = [self.zipf(TOPICS[topic], 0.8) for _ in range(4)]
        aside = [self.zipf(TOPICS[rng.choice(self.topics)], 0.8) for _ in range(2)]
        place = rng.choice(PLACES)
        named = [rng.choice(INSTITUTIONS).format(place=place), rng.choice(COMPANIES)]
        acronyms = TOPIC_ACRONYMS[topic]
        bodies = [*TOPIC_BODIES[topic], *ORGANISATIONS, named[1]]
        dept = rng.randrange(len(DEPARTMENTS))
        heading = f"{subject[0][0].upper()}{subject[0][1:]}: {place}"
        question = (
            f"To ask the Secretary of State for {DEPARTMENTS[dept].split(' for ')[-1]}, what "
            f"steps her Department is taking to improve {subject[0]} in {place}; and what "
            f"assessment she has made of {subject[1]} at {named[0]}."
        )
        answer: list[str] = []
        while sum(len(s) + 1 for s in answer) < 2000:
            template = rng.choice(SENTENCES)
            qualified = f"{rng.choice(subject)} {rng.choice(QUALIFIERS)}"
            answer.append(
                template.format(
                    a=rng.choice([subject[0], subject[0], *subject[1:], qualified]),
                    b=rng.choice([*subject, *aside, *named]),
                    c=rng.choice(PEOPLE),
                    g=rng.choice(GENERIC),
                    adj=rng.choice(ADJECTIVES),
                    org=rng.choice(bodies),
                    acr=rng.choice(acronyms),
                    place=rng.choice([place, place, rng.choice(PLACES)]),
                    n=rng.randint(2, 950),
                    day=rng.randint(1, 28),
                    month=rng.choice(MONTHS),
                    year=rng.randint(2010, 2024),
                    year2=rng.randint(2010, 2024),
                )
            )
        body = QuestionBody(
            Status.ANSWERED,
            department=DEPARTMENTS[dept],
            department_id=dept + 1,
            house=rng.choice(["Commons", "Commons", "Lords"]),
            asked_by=Person(rng.randint(1, 5000), "A Member"),
        )
        meta = Metadata(facets=question_facets(body), kind="written_question", source="wq")
        return {"title": heading, "question": question, "answer": " ".join(answer)}, meta


_WEIGHTS: dict[tuple[int, float], list[float]] = {}


def _weights(n: int, s: float) -> list[float]:
    if (n, s) not in _WEIGHTS:
        total, out = 0.0, []
        for rank in range(1, n + 1):
            total += 1 / rank**s
            out.append(total)
        _WEIGHTS[n, s] = out
    return _WEIGHTS[n, s]


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term or "-" in term else term


# --- the naive baseline: one regex per term, every rule on every document -----------------------

_W = r"[^\W_]"
_SEP = r"[\W_]+"
_POSS = r"(?:['’][sS])?"


def _word_regex(spec: WordSpec) -> str:
    if spec.prefix is not None:
        stem = re.escape(strip_accents(spec.written[:-1]))
        stem = stem[:-2] if spec.possessive else stem
        body = (f"(?-i:{stem})" if spec.caps else stem) + f"{_W}*"
    else:
        forms = [f.upper() if spec.caps else f for f in spec.forms]
        alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        body = f"(?-i:{alternation})" if spec.caps else f"(?:{alternation})"
    tail = r"['’][sS]" if spec.possessive else _POSS
    return body + tail + f"(?!{_W})"


def _term_regex(term: Term) -> str:
    return f"(?<!{_W})" + _SEP.join(_word_regex(s) for s in word_specs(term))


Check = Callable[[dict[str, str], Metadata], bool]


class Baseline:
    """A rule as most people would first write it: a regex per term, tried field by field."""

    def __init__(self, ast: Node) -> None:
        self.check = self._compile(ast, None)

    def _compile(self, node: Node, fields: frozenset[str] | None) -> Check:
        if isinstance(node, Term | Synonym):
            terms = node.terms if isinstance(node, Synonym) else (node,)
            rx = re.compile("|".join(_term_regex(t) for t in terms), re.IGNORECASE)
            return lambda doc, meta: any(
                rx.search(text) for name, text in doc.items() if fields is None or name in fields
            )
        if isinstance(node, Near):
            a, b = (self._side(x) for x in (node.left, node.right))
            gap = rf"(?:{_SEP}{_W}+{_POSS})"
            n = node.distance
            rx = re.compile(
                rf"{a}{gap}{{0,{n}}}{_SEP}{b}|{b}{gap}{{0,{n}}}{_SEP}{a}", re.IGNORECASE
            )
            return lambda doc, meta: any(
                rx.search(text) for name, text in doc.items() if fields is None or name in fields
            )
        if isinstance(node, And):
            parts = [self._compile(c, fields) for c in node.children]
            return lambda doc, meta: all(p(doc, meta) for p in parts)
        if isinstance(node, Or):
            parts = [self._compile(c, fields) for c in node.children]
            return lambda doc, meta: any(p(doc, meta) for p in parts)
        if isinstance(node, Not):
            part = self._compile(node.child, fields)
            return lambda doc, meta: not part(doc, meta)
        if isinstance(node, Field):
            return self._compile(node.child, frozenset({node.name}))
        assert isinstance(node, Meta)
        return _meta_check(node)

    def _side(self, node: Term | Synonym) -> str:
        terms = node.terms if isinstance(node, Synonym) else (node,)
        return "(?:" + "|".join(_term_regex(t) for t in terms) + ")"


def _meta_check(node: Meta) -> Check:
    value = " ".join(node.value.words)
    if node.name == "department":
        return lambda doc, meta: meta.department_id == int(value)
    if node.name == "house":
        return lambda doc, meta: (meta.house or "").lower() == value.lower()
    if node.name == "type":
        return lambda doc, meta: value == "question" and "question" in (meta.kind or "")
    raise ValueError(f"the workload has no {node.name}: filter")


# --- measuring ----------------------------------------------------------------------------------


def clock() -> float:
    """CPU seconds of this process: it runs on one core, and the figure does not change when
    another job shares the machine (wall-clock time would)."""
    return time.process_time()


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Row:
    rules: int
    queries: int
    build_s: float
    build_mb: float
    docs_per_s: float
    hits_per_s: float
    matches_per_doc: float
    base_build_s: float
    base_mb: float
    base_docs: int
    base_docs_per_s: float
    identical: bool


def measure(
    n_rules: int, docs: list[tuple[dict[str, str], Metadata]], seed: int, base_docs: int
) -> Row:
    workload = Workload(seed + n_rules)
    texts = [workload.rule() for _ in range(n_rules)]
    rules = [Rule(f"r{i}", parse(q, synonyms=SYNONYMS), ANSWERED) for i, q in enumerate(texts)]
    gc.collect()
    before = rss()
    started = clock()
    ruleset = RuleSet(rules)
    build_s = clock() - started
    build_mb = (rss() - before) / 2**20

    documents = [Document(fields, meta) for fields, meta in docs]  # warm-up, then timed afresh
    for document in documents[:20]:
        ruleset.match_document(document)
    started = clock()
    decided = [ruleset.matching(Document(fields, meta)) for fields, meta in docs]
    docs_per_s = len(docs) / (clock() - started)
    # Outside the timing: looking up a thousand rules per document is the caller's work.
    found = sum(len(numbers) for numbers in decided)
    ours = [{ruleset[number].id for number in numbers} for numbers in decided]
    # The same documents again, with the hits (offsets) of every match worked out.
    started = clock()
    matched = [ruleset.match_document(Document(fields, meta)) for fields, meta in docs]
    hits_per_s = len(docs) / (clock() - started)
    with_hits = [{rule.id for rule, _ in pairs} for pairs in matched]

    gc.collect()
    before = rss()
    started = clock()
    cache: dict[Node, Baseline] = {}
    baseline = [(r.id, cache.setdefault(r.query.ast, Baseline(r.query.ast))) for r in rules]
    base_build_s = clock() - started
    base_mb = (rss() - before) / 2**20
    sample = docs[:base_docs]
    started = clock()
    theirs = []
    for fields, meta in sample:
        stripped = {name: strip_accents(text) for name, text in fields.items()}
        theirs.append({rid for rid, b in baseline if b.check(stripped, meta)})
    base_rate = len(sample) / (clock() - started)
    identical = theirs == ours[: len(sample)] and with_hits == ours
    if not identical:
        for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            for rid in sorted(a ^ b)[:3]:
                q = texts[int(rid[1:])]
                print(f"  doc {i}: rule {rid} {q!r}: ours={rid in a} baseline={rid in b}")
    return Row(
        n_rules,
        len({r.query.ast for r in rules}),
        build_s,
        build_mb,
        docs_per_s,
        hits_per_s,
        found / len(docs),
        base_build_s,
        base_mb,
        len(sample),
        base_rate,
        identical,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    workload = Workload(args.seed)
    docs = [workload.document() for _ in range(args.docs)]
    size = sum(len(f["answer"].encode()) for f, _ in docs) / len(docs)
    python = sys.version.split()[0]
    print(f"{len(docs)} documents, answers {size:.0f} bytes on average; Python {python}")
    print()
    print(
        "| rules | distinct queries | build s | build MB | docs/s | docs/s with hits | matches/doc "
        "| baseline build s | baseline MB | baseline docs timed | baseline docs/s | speed-up "
        "| identical |"
    )
    print("|" + "---|" * 13)
    ok = True
    for n in (int(x) for x in args.sizes.split(",")):
        # The baseline takes about n/10 ms a document: time it on a subsample when n is large.
        base_docs = min(len(docs), max(10, 300_000 // max(n, 1)))
        row = measure(n, docs, args.seed, base_docs)
        ok &= row.identical
        print(
            f"| {row.rules:,} | {row.queries:,} | {row.build_s:.2f} | {row.build_mb:.0f} "
            f"| {row.docs_per_s:,.0f} | {row.hits_per_s:,.0f} | {row.matches_per_doc:.1f} "
            f"| {row.base_build_s:.2f} "
            f"| {row.base_mb:.0f} | {row.base_docs:,} | {row.base_docs_per_s:,.1f} "
            f"| {row.docs_per_s / row.base_docs_per_s:,.0f}x "
            f"| {'yes' if row.identical else 'NO'} |",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
