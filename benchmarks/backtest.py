"""How fast ``watcher test-rule`` answers over a large stored history.

    python benchmarks/backtest.py [--records 300000] [--repeat 3]

(with ``watcher`` importable: the ``.venv`` that ``scripts/test`` sets up, or ``PYTHONPATH=.``)

Generates ``--records`` synthetic written answers from a fixed seed (realistic shape: a
department's vocabulary over common Whitehall prose and a long tail of rare words, a 1-2 KB
answer, a question, a heading, dates over six years), stores them through the store's own
``commit_records`` (the path a backfill takes, search index included) into a SQLite file cached
under ``benchmarks/.cache/`` and, when ``WATCHER_TEST_POSTGRES_URL`` is set, into the PostgreSQL
schema ``watcher_bench_backtest`` (kept between runs). Generating takes a few minutes the first
time.

It then times ``watcher.backtest.search`` (what ``test-rule`` runs) for selective and broad rules
and prints one table: matches, candidates the index let through, the median total time, and
where it went, from the same steps timed one by one (the index query, reading what the matcher
needs of each candidate, confirming it with the live matcher's ``matches``). Targets: a
selective rule in 50 ms, a broad one-word rule in 250 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from watcher import backtest
from watcher.kinds.questions import written_question
from watcher.match import Document, matches, parse
from watcher.model import Person, Record, Status, Text
from watcher.store import Store, open_store
from watcher.store.engine import store_engine

SEED = 20240115
GENERATOR = 2  # bump when the corpus changes, so caches are rebuilt
SOURCE = "written-questions"
CACHE = Path(__file__).parent / ".cache"
PG_SCHEMA = "watcher_bench_backtest"
BATCH = 2000
TARGETS_MS = {"selective": 50.0, "broad": 250.0}
RULES = [
    ("selective", '"SEND workforce"'),
    ("selective", "EHCP AND tribunal"),
    ("selective", '"speech and language therapists"'),
    ("selective", "Ofsted NEAR/5 inspection* NOT academy"),
    ("broad", "school"),
    ("broad", "funding"),
]

# --- the synthetic corpus -----------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


# Each vocabulary is ordered from common to rare; words are drawn with Zipf-like weights.
COMMON = _words("""the of to and a in is for that on with as be this are will by we has have it from
at an or which their our its was were been also all any other more these those such Government
Department Minister continue ensure support including through provide work across under within
between new further available number information data published plans programme review
guidance system services people public sector year years 2023 2024 2022 million per cent
England local national committed approach set out part place because well however whether
current level increase reduce improve delivery access needs help example Secretary State UK
Wales Scotland areas community important commitment record held billion published 2021 2020
2019 programmes systems service communities levels increased reduced improving deliver
delivering needs helping Northern Ireland country send sent sending""")

DEPARTMENTS: dict[str, str] = {
    "Department for Education": """school schools pupils teachers funding children education
        teacher SEND curriculum Ofsted academies trusts attainment early years childcare
        special educational needs disabilities headteachers classroom attendance skills
        further colleges universities students apprenticeships tutoring exclusions inspection
        workforce nurseries psychologists speech language therapists EHCP EHCPs
        inspections academy tribunal""",
    "Department of Health and Social Care": """NHS patients care health hospital services
        mental social GP workforce nurses treatment waiting lists doctors hospitals adult
        clinical primary trusts funding GPs nursing integrated boards vaccine beds discharge
        ambulance pharmacy dentistry vaccination therapists speech language""",
    "Home Office": """police asylum immigration crime officers policing Border Force visa
        security applications border borders small boats detention removals offenders
        violence knife fraud counter terrorism caseworkers visas funding""",
    "Ministry of Justice": """courts prison court prisoners probation justice offenders
        sentencing legal aid victims family hearings tribunal tribunals judges magistrates
        backlog rehabilitation reoffending prisons""",
    "HM Treasury": """tax spending economy budget funding fiscal HMRC revenue inflation
        growth investment interest rates borrowing debt allocation Spending Review duty relief
        pensions taxes""",
    "Department for Work and Pensions": """benefits Universal Credit claimants employment
        pension State Pension disability work coaches payments households jobcentre PIP
        unemployment poverty sanctions childcare pensions""",
    "Department for Transport": """rail roads buses passengers trains vehicles funding
        railways electric charging journeys motorways bus HS2 aviation airports ports freight
        potholes""",
    "Department for Energy Security and Net Zero": """energy electricity gas bills households
        net zero emissions renewable heat pumps grid nuclear wind solar capacity insulation
        renewables decarbonisation""",
    "Ministry of Defence": """armed forces defence personnel Army Navy Royal Air Force
        veterans equipment NATO Ukraine training recruitment retention procurement bases""",
    "Department for Levelling Up, Housing and Communities": """housing homes councils local
        authorities planning funding housebuilding tenants landlords rough sleeping
        homelessness building safety leasehold cladding regeneration""",
    "Foreign, Commonwealth and Development Office": """international aid development partners
        humanitarian overseas sanctions diplomatic embassy consular bilateral conflict
        refugees""",
    "Department for Environment, Food and Rural Affairs": """farmers food water environment
        farming agriculture flooding rivers sewage flood biodiversity animal welfare
        fisheries trees peat""",
}
DEPARTMENT_WEIGHTS = [15, 14, 10, 8, 7, 9, 7, 6, 6, 8, 5, 5]
# Phrases a subscriber might watch, placed in a few answers of the departments that use them.
PHRASES = {
    "Department for Education": [
        ("SEND workforce", 0.006),
        ("speech and language therapists", 0.004),
    ],
    "Department of Health and Social Care": [("speech and language therapists", 0.003)],
}
SYLLABLES = _words("""ba be bi bo bu ca ce co cu da de di do fa fe fi fo ga ge go ha he hi ho
la le li lo lu ma me mi mo mu na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to tu va
ve vi wa we wi ya zo an en in on ar er ir or al el il ol""")


class Corpus:
    """Reproducible records: the same seed gives the same records, in the same order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        tail = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(40_000)}
        self.tail = sorted(tail)
        rng.shuffle(self.tail)
        self.topics = {name: _words(words) for name, words in DEPARTMENTS.items()}
        # Per department one vocabulary: 65% common prose, 25% its topic, 10% the rare tail.
        self.vocabulary = {
            name: (
                COMMON + topic + self.tail,
                _weights(
                    [
                        (_zipf(len(COMMON), 0.8), 0.65),
                        (_zipf(len(topic), 1.3), 0.25),
                        (_zipf(len(self.tail), 1.0, offset=10), 0.10),
                    ]
                ),
            )
            for name, topic in self.topics.items()
        }
        self.names = list(DEPARTMENTS)

    def records(self, n: int) -> Iterator[Record]:
        rng = self.rng
        first = date(2019, 1, 7)
        span = (date(2024, 12, 20) - first).days
        for i in range(n):
            department = rng.choices(self.names, DEPARTMENT_WEIGHTS)[0]
            answered = first + timedelta(days=rng.randrange(span))
            if answered.weekday() >= 5:  # answers come on weekdays
                answered -= timedelta(days=answered.weekday() - 4)
            topic = self.topics[department]
            heading = " ".join(w.capitalize() for w in rng.sample(topic[:20], rng.randint(1, 3)))
            question = (
                "To ask the Secretary of State, what steps the Department is taking to "
                + self._prose(department, rng.randint(25, 45), sentences=False)
                + "."
            )
            answer = self._prose(department, rng.randint(160, 330))
            for phrase, chance in PHRASES.get(department, ()):
                if rng.random() < chance:
                    cut = rng.randrange(len(answer) // 2, len(answer))
                    cut = answer.rfind(" ", 0, cut) + 1
                    answer = f"{answer[:cut]}the {phrase} {answer[cut:]}"
            yield written_question(
                source=SOURCE,
                key=str(1_000_000 + i),
                title=heading,
                url=f"https://questions-statements.parliament.uk/written-questions/detail/{answered}/{i}",
                status=Status.ANSWERED,
                house="Commons" if rng.random() < 0.85 else "Lords",
                uin=str(i),
                department=department,
                department_id=self.names.index(department) + 1,
                asked_by=Person(id=rng.randint(1, 5000), name="A Member"),
                answered_by=Person(id=rng.randint(1, 500), name="A Minister"),
                question=Text(f"<p>{question}</p>", question),
                answer=Text(f"<p>{answer}</p>", answer),
                date_tabled=answered - timedelta(days=rng.randint(3, 20)),
                date_answered=answered,
            )

    def _prose(self, department: str, words: int, sentences: bool = True) -> str:
        rng = self.rng
        vocabulary, weights = self.vocabulary[department]
        out = rng.choices(vocabulary, cum_weights=weights, k=words)
        if not sentences:
            return " ".join(out)
        start = 0
        while start < len(out):
            out[start] = out[start][:1].upper() + out[start][1:]
            start += rng.randint(8, 28)
            out[min(start, len(out)) - 1] += "."
        return " ".join(out)


def _zipf(n: int, exponent: float, offset: int = 1) -> list[float]:
    """Weights that make rank r as likely as 1/(r+offset)^exponent, summing to 1."""
    raw = [1 / (rank + offset) ** exponent for rank in range(n)]
    total = sum(raw)
    return [w / total for w in raw]


def _weights(parts: list[tuple[list[float], float]]) -> list[float]:
    """Cumulative weights for ``random.choices`` over vocabularies placed end to end, each
    drawn with its share."""
    out: list[float] = []
    total = 0.0
    for weights, share in parts:
        for w in weights:
            total += w * share
            out.append(total)
    return out


# --- stores ---------------------------------------------------------------------------------


def fill(store: Store, n: int, label: str, analyze: Callable[[], None] | None = None) -> None:
    """Store ``n`` records in batches; ``analyze`` refreshes the planner's statistics as the
    tables grow (PostgreSQL without autovacuum would otherwise scan whole tables)."""
    corpus = Corpus(SEED)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    batch: list[tuple[Record, str]] = []
    started = time.perf_counter()
    for i, r in enumerate(corpus.records(n), 1):
        batch.append((r, f"listed-{r.key}"))
        if len(batch) == BATCH or i == n:
            store.commit_records(SOURCE, batch, at)
            batch = []
            if analyze is not None and (i in (BATCH, 5 * BATCH) or i % 50_000 == 0):
                analyze()
            if i % 20_000 == 0 or i == n:
                rate = i / (time.perf_counter() - started)
                print(f"  {label}: {i}/{n} records stored ({rate:.0f}/s)", file=sys.stderr)


def sqlite_store(n: int) -> tuple[Store, str]:
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    path = CACHE / f"backtest-{n}-{SEED}-g{GENERATOR}.db"
    if not path.exists():
        print(f"generating {n} records into {path} (once; cached)", file=sys.stderr)
        partial = path.with_suffix(".partial")
        for leftover in CACHE.glob(partial.name + "*"):
            leftover.unlink()
        store = open_store(f"sqlite:///{partial}")
        store.migrate()
        fill(store, n, "sqlite")
        store.close()
        partial.rename(path)
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    return store, f"{path.stat().st_size / 1e9:.1f} GB file"


def postgres_store(base: str, n: int) -> tuple[Store, str]:
    admin = store_engine(base)
    marker = f"{n} records, seed {SEED}, generator {GENERATOR}"
    with admin.begin() as conn:
        found = conn.execute(
            text("SELECT obj_description(oid) FROM pg_namespace WHERE nspname = :s"),
            {"s": PG_SCHEMA},
        ).scalar()
        fresh = found != marker
        if fresh:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    store = open_store(url.render_as_string(hide_password=False))
    store.migrate()

    def analyze() -> None:
        with admin.begin() as conn:
            for table in ("record", "record_version", "record_words"):
                conn.execute(text(f'ANALYZE "{PG_SCHEMA}".{table}'))

    if fresh:
        print(f"generating {n} records into PostgreSQL schema {PG_SCHEMA}", file=sys.stderr)
        fill(store, n, "postgresql", analyze)
        analyze()
        with admin.begin() as conn:
            conn.execute(text(f"COMMENT ON SCHEMA \"{PG_SCHEMA}\" IS '{marker}'"))
    with admin.begin() as conn:
        size = conn.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace s ON s.oid = c.relnamespace "
                "WHERE s.nspname = :s AND c.relkind = 'r'"
            ),
            {"s": PG_SCHEMA},
        ).scalar()
    admin.dispose()
    return store, f"{int(size or 0) / 1e9:.1f} GB schema"


# --- timing -----------------------------------------------------------------------------------


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def breakdown(store: Store, query_text: str) -> tuple[float, float, float]:
    """The steps of ``backtest.search`` timed one by one: index, reading, matching (ms)."""
    query = parse(query_text)
    started = time.perf_counter()
    found = store.candidates(backtest.required_words(query.ast))
    index = time.perf_counter()
    inputs = []
    for i in range(0, len(found), backtest.BATCH):
        chunk = found[i : i + backtest.BATCH]
        stored = store.match_inputs(SOURCE, [c.key for c in chunk])
        inputs += [stored[c.key] for c in chunk]
    read = time.perf_counter()
    for m in inputs:
        matches(query, Document.from_record(m))
    matched = time.perf_counter()
    return (index - started) * 1000, (read - index) * 1000, (matched - read) * 1000


def bench(store: Store, backend: str, repeat: int) -> list[str]:
    rows = []
    for kind, rule in RULES:
        query = parse(rule)
        started = time.perf_counter()
        result = backtest.search(store, query)  # warms the OS and database caches
        # A rule that takes seconds is timed once: its spread is small next to its size.
        runs = repeat if time.perf_counter() - started < 2 else 1
        times = [timed(lambda q=query: backtest.search(store, q)) for _ in range(runs)]
        index, read, match = breakdown(store, rule)
        total = statistics.median(times)
        verdict = "ok" if total <= TARGETS_MS[kind] else "MISSED"
        rows.append(
            f"| {backend} | `{rule}` | {kind} | {len(result.matched)} | {result.candidates} "
            f"| {total:.0f} | {index:.0f} | {read:.0f} | {match:.0f} "
            f"| ≤ {TARGETS_MS[kind]:.0f} {verdict} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    stores = [("sqlite", *sqlite_store(args.records))]
    pg = os.environ.get("WATCHER_TEST_POSTGRES_URL")
    if pg:
        stores.append(("postgresql", *postgres_store(pg, args.records)))
    else:
        print("WATCHER_TEST_POSTGRES_URL is not set: PostgreSQL skipped", file=sys.stderr)

    print(
        f"{args.records} records; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores; median of {args.repeat} runs after one warm-up "
        "(one run for rules slower than 2 s)"
    )
    for backend, _store, size in stores:
        print(f"{backend}: {size}")
    print()
    print(
        "| backend | rule | kind | matches | candidates | total ms | index ms | read ms "
        "| match ms | target |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for backend, store, _size in stores:
        try:
            for row in bench(store, backend, args.repeat):
                print(row, flush=True)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
