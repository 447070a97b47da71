"""Version 4, one item model for every source. FROZEN: never edit.

Records were written questions, stored flat (``house``, ``uin``, ``asked_by`` ... beside
``title``); from this version a record is general (``texts``, ``facets``, ``day`` and a
kind's ``body``, see ``watcher.model.Record``). This step rewrites every stored record and
record version into the new shape (``upgraded``), renames the ``heading`` field of stored hits
to ``title`` (its name now, for every kind), and gives each source a ``cursor``: what its last
listing said to start from next time (HTTP validators, ids seen).

The fingerprints stored with the rows are left as they are: they identify versions and events
already stored, and a version stored from now on carries the new fingerprint of its content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)

NAME = "one item model for every source"

_meta = MetaData()
_record = Table(
    "record",
    _meta,
    Column("source", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("data", Text, nullable=False),
)
_record_version = Table(
    "record_version",
    _meta,
    Column("id", BigInteger, primary_key=True),
    Column("data", Text, nullable=False),
)
_event_match = Table(
    "event_match", _meta, Column("id", BigInteger, primary_key=True), Column("hits", Text)
)

_BATCH = 1000
_BODY = (
    "status",
    "house",
    "uin",
    "department",
    "department_id",
    "asked_by",
    "answered_by",
    "corrected_by",
    "original_answer",
    "date_tabled",
    "date_for_answer",
    "date_answered",
    "date_holding",
    "date_corrected",
    "is_correction",
    "named_day",
    "member_has_interest",
    "grouped",
)


def apply(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE source_state ADD COLUMN cursor TEXT")
    _rewrite_records(conn)
    _rewrite_versions(conn)
    _rewrite_hits(conn)


def upgraded(d: Mapping[str, Any]) -> dict[str, Any]:
    """A written question as version 3 stored it, in the shape of version 4."""
    texts = {name: d[name] for name in ("question", "answer") if d.get(name) is not None}
    days = [d[n] for n in ("date_tabled", "date_answered", "date_corrected") if d.get(n)]

    def who(p: Mapping[str, Any] | None) -> list[Any]:
        return [p["name"], p["id"]] if p else []

    labels = {
        "house": [d.get("house")],
        "department": [d.get("department"), d.get("department_id")],
        "asked_by": who(d.get("asked_by")),
        "answered_by": who(d.get("answered_by")),
        "member": [*who(d.get("asked_by")), *who(d.get("answered_by"))],
        "party": [(d.get("asked_by") or {}).get("party")],
        "uin": [d.get("uin")],
    }
    facets = {}
    for name, values in labels.items():
        kept = [str(v) for v in values if v is not None and str(v).strip()]
        if kept:
            facets[name] = kept
    return {
        "source": d["source"],
        "key": d["key"],
        "kind": d["kind"],
        "title": d["title"],
        "url": d["url"],
        "day": max(days) if days else None,
        "texts": texts,
        "facets": facets,
        "attachments": list(d.get("attachments", ())),
        "body": {name: d.get(name) for name in _BODY}
        | {
            "is_correction": bool(d.get("is_correction", False)),
            "named_day": bool(d.get("named_day", False)),
            "member_has_interest": bool(d.get("member_has_interest", False)),
            "grouped": list(d.get("grouped", ())),
        },
    }


def _json(d: Mapping[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _rewrite_records(conn: Connection) -> None:
    stmt = (
        update(_record)
        .where(_record.c.source == bindparam("s"), _record.c.key == bindparam("k"))
        .values(data=bindparam("d"))
    )
    after: tuple[str, str] = ("", "")
    while True:
        rows = conn.execute(
            select(_record.c.source, _record.c.key, _record.c.data)
            .where(
                (_record.c.source > after[0])
                | ((_record.c.source == after[0]) & (_record.c.key > after[1]))
            )
            .order_by(_record.c.source, _record.c.key)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = [
            {"s": s, "k": k, "d": _json(upgraded(old))}
            for s, k, data in rows
            if "texts" not in (old := json.loads(data))
        ]
        if changed:
            conn.execute(stmt, changed)
        after = (rows[-1][0], rows[-1][1])


def _rewrite_versions(conn: Connection) -> None:
    stmt = update(_record_version).where(_record_version.c.id == bindparam("i"))
    after = 0
    while True:
        rows = conn.execute(
            select(_record_version.c.id, _record_version.c.data)
            .where(_record_version.c.id > after)
            .order_by(_record_version.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = [
            {"i": i, "d": _json(upgraded(old))}
            for i, data in rows
            if "texts" not in (old := json.loads(data))
        ]
        if changed:
            conn.execute(stmt.values(data=bindparam("d")), changed)
        after = rows[-1][0]


def _rewrite_hits(conn: Connection) -> None:
    stmt = update(_event_match).where(_event_match.c.id == bindparam("i"))
    after = 0
    while True:
        rows = conn.execute(
            select(_event_match.c.id, _event_match.c.hits)
            .where(_event_match.c.id > after)
            .order_by(_event_match.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for i, data in rows:
            hits = json.loads(data)
            if any(h[0] == "heading" for h in hits):
                renamed = [["title", *h[1:]] if h[0] == "heading" else h for h in hits]
                changed.append({"i": i, "h": json.dumps(renamed, ensure_ascii=False)})
        if changed:
            conn.execute(stmt.values(hits=bindparam("h")), changed)
        after = rows[-1][0]
