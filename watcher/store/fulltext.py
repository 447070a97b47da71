"""The full-text candidate index: which stored records could match a rule, cheaply.

The index holds, for the current version of every record, its day (``Record.day``) and the
distinct folded words of its text fields (the title and the kind's texts), folded by the matcher
itself (``watcher.match.document.fold_text``, i.e. ``tokens.Word.norm``), and the distinct pairs
of adjacent words in a field (``send_workforce``), so a phrase narrows by its pairs and not only
by its rarest word. Because the words are the matcher's, the database never decides what a word
is, only compares whole words and prefixes; so a record holding a word equal to (or starting
with) a searched word is always found, whatever the script, ligature or accent. That is the
contract: the candidates are a superset of what a rule matches. Deciding which candidates really
match is left to the live matcher (``watcher.backtest``).

Backends: on SQLite an external-content FTS5 table over ``record_words.words`` (kept in step by
triggers, see ``schema``), whose tokenizer splits on separators only, so each folded word is one
token; on PostgreSQL a GIN-indexed tsvector built by ``array_to_tsvector`` from the word list
verbatim and queried with a tsquery cast from text: no parser, no stemming, no stop words.

``update`` runs inside the transaction of every commit that writes ``record``, so the index
always describes it; migration 2 (``history.v2``) built it for the records stored before it.

``match_inputs`` reads what confirming a candidate needs (``base.MatchInput``): the plain
texts, the facets and the body, picked out of the record's JSON without building a
``Record``. ``stored_span`` counts the index rows of a source and their days.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from itertools import pairwise
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json
from sqlalchemy import (
    Connection,
    Date,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY

from watcher.match.document import fold_text
from watcher.model import Body, Record
from watcher.store import queries
from watcher.store.base import PAIR, Candidate, MatchInput, SearchWord, StoredSpan
from watcher.store.schema import record, record_words

# Longer words are indexed (and searched) by their first MAX_WORD characters: PostgreSQL refuses
# lexemes over 2 KB (a pair of such words stays under it), and a prefix still finds the word.
MAX_WORD = 200


# --- what is indexed ------------------------------------------------------------------------


def index_words(r: Record) -> list[str]:
    """The distinct folded words of the record's text fields, each cut to ``MAX_WORD``
    characters, then the distinct pairs of words that stand next to each other in a field
    (``send_workforce``), which let a phrase be looked up by its pairs."""
    words: dict[str, None] = {}
    pairs: dict[str, None] = {}
    for value in r.fields().values():
        norms = [word[:MAX_WORD] for word in fold_text(value).split()]
        words.update(dict.fromkeys(norms))
        pairs.update(dict.fromkeys(f"{a}{PAIR}{b}" for a, b in pairwise(norms)))
    return [*words, *pairs]


def _indexed(word: str) -> str:
    """A searched word (or pair) as the index keeps it."""
    return PAIR.join(part[:MAX_WORD] for part in word.split(PAIR))


def record_day(r: Record, fallback: date) -> date:
    """The record's day (``Record.day``: a question's latest tabled, answered or corrected
    date), or ``fallback``, the day the store first saw it, for a record without one."""
    return r.day or fallback


# --- maintenance ----------------------------------------------------------------------------


def update(conn: Connection, records: Iterable[tuple[Record, str]]) -> int:
    """Index each of ``records`` (record, its fingerprint) that is now the current version of
    its item and is not indexed yet; how many rows changed. Call in the transaction that wrote
    ``record``."""
    wanted = {(r.source, r.key): (r, fingerprint) for r, fingerprint in records}
    by_source: dict[str, list[str]] = {}
    for source, key in wanted:
        by_source.setdefault(source, []).append(key)
    rows: list[dict[str, Any]] = []
    for source, keys in by_source.items():
        for chunk in queries.chunks(sorted(keys)):
            current = conn.execute(
                select(record.c.key, record.c.fingerprint, record.c.first_seen).where(
                    record.c.source == source, record.c.key.in_(chunk)
                )
            )
            for key, fingerprint, first_seen in current:
                r, offered = wanted[(source, key)]
                # An older poll committed late leaves ``record`` alone; so does the index.
                if offered == fingerprint:
                    rows.append(_row(r, fingerprint, first_seen.date()))
    return _upsert(conn, rows)


def _row(r: Record, fingerprint: str, fallback: date) -> dict[str, Any]:
    return {
        "source": r.source,
        "key": r.key,
        "fingerprint": fingerprint,
        "day": record_day(r, fallback),
        "terms": index_words(r),
    }


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        words: Any = func.array_to_tsvector(bindparam("terms", type_=ARRAY(Text)))
    else:
        words = bindparam("terms")
        rows = [{**row, "terms": " ".join(row["terms"])} for row in rows]
    ins = queries.dialect_insert(conn, record_words).values(
        source=bindparam("source"),
        key=bindparam("key"),
        fingerprint=bindparam("fingerprint"),
        day=bindparam("day"),
        words=words,
    )
    new = ins.excluded
    stmt = ins.on_conflict_do_update(
        index_elements=[record_words.c.source, record_words.c.key],
        set_={"fingerprint": new.fingerprint, "day": new.day, "words": new.words},
        where=record_words.c.fingerprint != new.fingerprint,
    )
    return conn.execute(stmt, list(rows)).rowcount


# --- queries --------------------------------------------------------------------------------

# On SQLite the words are matched by the FTS5 table and the rest is read from the covering index
# ``schema.LOOKUP_INDEX``, which the planner would not pick by itself; SQLAlchemy renders no
# index hints for SQLite, hence the plain SQL.
_SQLITE_CANDIDATES = (
    text(
        """SELECT source, key, day FROM record_words INDEXED BY ix_record_words_lookup
        WHERE id IN (SELECT rowid FROM record_words_fts WHERE record_words_fts MATCH :q)
            AND (:source IS NULL OR source = :source) AND (:since IS NULL OR day >= :since)
        ORDER BY day DESC, source, key DESC"""
    )
    .bindparams(bindparam("since", type_=Date))
    .columns(source=String, key=String, day=Date)
)


def candidates(
    conn: Connection,
    required: Sequence[Collection[SearchWord]] | None,
    source: str | None = None,
    since: date | None = None,
) -> list[Candidate]:
    """Records holding a word of every group of ``required`` (all records when None or
    empty), newest first."""
    groups = [list(group) for group in required or ()]
    if any(not group for group in groups):
        return []  # a group no word can satisfy: nothing can match
    # A group with a word the index cannot look up narrows nothing; the others still do.
    groups = [group for group in groups if searchable(group)]
    if groups and conn.dialect.name == "sqlite":
        found = conn.execute(
            _SQLITE_CANDIDATES, {"q": fts5_query(groups), "source": source, "since": since}
        )
        return [Candidate(*row) for row in found]
    w = record_words.c
    stmt: Select[Any] = select(w.source, w.key, w.day)
    if source is not None:
        stmt = stmt.where(w.source == source)
    if since is not None:
        stmt = stmt.where(w.day >= since)
    if groups:
        stmt = stmt.where(w.words.op("@@")(cast(bindparam("q", tsquery(groups)), TSQUERY)))
    stmt = stmt.order_by(w.day.desc(), w.source, w.key.desc())
    found = conn.execute(stmt)
    # psycopg fetches one row per call when a result is iterated; fetching them all at once
    # saves about 0.3 s of 129,000 candidates. On SQLite iterating measured faster.
    rows = found.all() if conn.dialect.name == "postgresql" else found
    return [Candidate(*row) for row in rows]


def searchable(words: Iterable[SearchWord]) -> bool:
    """False if some word is empty: the index cannot look it up."""
    return all(word.text for word in words)


def _terms(words: Iterable[SearchWord]) -> list[tuple[str, bool]]:
    # A word longer than the index keeps is looked up by the part it keeps.
    return sorted({(_indexed(w.text), w.prefix) for w in words})


def fts5_query(groups: Iterable[Iterable[SearchWord]]) -> str:
    """An FTS5 MATCH expression: a word of each group (each word a quoted string, ``*`` after
    a prefix)."""
    return " AND ".join(
        "("
        + " OR ".join(
            '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")
            for word, prefix in _terms(group)
        )
        + ")"
        for group in groups
    )


def tsquery(groups: Iterable[Iterable[SearchWord]]) -> str:
    """The same as a tsquery in text form (``:*`` after a prefix). Cast to ``tsquery`` it is
    taken verbatim: no parser, no normalisation."""

    def lexeme(word: str, prefix: bool) -> str:
        quoted = word.replace("\\", "\\\\").replace("'", "''")
        return f"'{quoted}'" + (":*" if prefix else "")

    return " & ".join(
        "(" + " | ".join(lexeme(word, prefix) for word, prefix in _terms(group)) + ")"
        for group in groups
    )


# --- what confirming reads ------------------------------------------------------------------


def match_inputs(conn: Connection, source: str, keys: Iterable[str]) -> dict[str, MatchInput]:
    """``base.MatchInput`` of the current version of each stored key among ``keys``."""
    out: dict[str, MatchInput] = {}
    for chunk in queries.chunks(sorted(set(keys))):
        rows = conn.execute(
            select(record.c.key, record.c.data).where(
                record.c.source == source, record.c.key.in_(chunk)
            )
        )
        out.update((key, _match_input(from_json(data))) for key, data in rows)
    return out


def _match_input(d: Mapping[str, Any]) -> MatchInput:
    """The values ``record_from_dict(d)`` would give ``Record.fields()``, ``Metadata.of``
    and ``diff.life_events``, without building the rest of the record (no HTML, no
    attachments: half the cost of reading one)."""
    texts = {"title": d["title"]}
    for name, value in d["texts"].items():
        texts[name] = value["plain"]
    return MatchInput(
        source=d["source"],
        kind=d["kind"],
        texts=texts,
        facets={name: tuple(labels) for name, labels in d["facets"].items()},
        body=_BODY.validate_python(d["body"]) if d.get("body") is not None else None,
    )


_BODY: TypeAdapter[Body] = TypeAdapter(Body)


def stored_span(conn: Connection, source: str | None = None) -> StoredSpan:
    """``base.StoredSpan`` of ``source``'s index rows (every source's if None): one per
    current record, so their count is the records stored."""
    w = record_words.c
    stmt = select(func.count(), func.min(w.day), func.max(w.day))
    if source is not None:
        stmt = stmt.where(w.source == source)
    count, first, last = conn.execute(stmt).one()
    return StoredSpan(int(count), first, last)
