"""The ``webhook`` format: a digest as versioned JSON built from data, for machines. Pure.

The payload is a public contract, documented by ``docs/webhook-payload.schema.json`` (JSON
Schema 2020-12), which the tests hold every payload to::

    {"type": "watcher.digest", "version": 1, "id", "part": {"index", "of"}, "subscription",
     "cadence", "period_end", "subject", "item_count", "items": [...], "licences": [...]}

and an operator's notice or a test message is ``{"type": "watcher.note", "version": 1, "id",
"part", "subject", "text"}``. Within version 1 fields are only ever added: a receiver ignores
what it does not know. A field that changes meaning or goes is a new version.

Sizes: a text is cut to its first ``MAX_TEXT`` characters (the item's ``truncated`` says which,
and how long it was: its ``url`` has all of it), so hit offsets into what is sent stay right;
a body keeps to ``MAX_BODY`` bytes, and a digest longer than that is several bodies in order,
``part`` saying which, all under one ``id``. An item too big for a body of its own keeps less
of each text, then fewer attachments and questions answered with it, never nothing.
Only the subject comes from a template (``subject.txt.j2``); everything else is the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date
from typing import Any

from watcher.kinds import kind_of
from watcher.model import DigestItem, Event, EventType, Message, QuestionBody, Record
from watcher.render.chat import pack, to_json, utf8
from watcher.render.formats import MAX_SUBJECT, DigestContext, Format, Templates, one_line
from watcher.render.items import ItemView, safe_url

VERSION = 1
MAX_TEXT = 20_000  # characters kept of one text
MAX_TITLE = 2_000  # characters kept of a title
MAX_BODY = 500_000  # bytes of UTF-8 JSON in one body: under the 1 MB many servers accept
# An item too big for a body of its own: (characters kept of each text, most attachments and
# questions answered with it), tried in turn.
SHRINK: tuple[tuple[int, int | None], ...] = (
    (MAX_TEXT, None),
    (5_000, None),
    (1_000, 100),
    (200, 20),
    (0, 5),
)
TEMPLATES = ("subject.txt.j2",)
_QUESTION_DATES = (
    ("tabled", "date_tabled"),
    ("due", "date_for_answer"),
    ("holding", "date_holding"),
    ("answered", "date_answered"),
    ("corrected", "date_corrected"),
)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _texts(texts: Mapping[str, str], cap: int, truncated: dict[str, int]) -> dict[str, str]:
    out = {}
    for name, plain in texts.items():
        if len(plain) > cap:
            truncated[name] = len(plain)
        out[name] = plain[:cap]
    return out


def _record(r: Record, event: EventType, cap: int, most: int | None) -> dict[str, Any]:
    """What an item and a question answered with it share."""
    truncated: dict[str, int] = {}
    title = r.title
    if len(title) > MAX_TITLE:
        truncated["title"] = len(title)
    body = r.body if isinstance(r.body, QuestionBody) else None
    dates = {name: _iso(getattr(body, f)) for name, f in _QUESTION_DATES} if body else {}
    attachments = r.attachments if most is None else r.attachments[:most]
    if len(attachments) < len(r.attachments):
        truncated["attachments"] = len(r.attachments)
    return {
        "kind": r.kind,
        "type": kind_of(r.kind).noun,
        "event": event.value,
        "source": r.source,
        "key": r.key,
        "title": title[:MAX_TITLE],
        "url": safe_url(r.url),
        "day": _iso(r.day),
        "dates": {name: d for name, d in dates.items() if d},
        "texts": _texts({n: t.plain for n, t in r.texts.items()}, cap, truncated),
        "facets": {name: list(labels) for name, labels in r.facets.items()},
        "attachments": [{"title": a.title, "url": safe_url(a.url)} for a in attachments],
        "truncated": truncated,
    }


def _previous(event: Event, view: ItemView, cap: int) -> dict[str, Any] | None:
    """The texts of the version before the change that differ from now, or None when no
    earlier version is known. A correction's is the answer it replaced, stored or the
    source's original."""
    if event.type is EventType.CORRECTED and view.old_answer_text is not None:
        texts = {"answer": view.old_answer_text}
    elif event.previous is not None:
        now = event.record.texts
        texts = {
            n: t.plain
            for n, t in event.previous.texts.items()
            if n not in now or now[n].plain != t.plain
        }
    else:
        return None
    truncated: dict[str, int] = {}
    return {"texts": _texts(texts, cap, truncated), "truncated": truncated}


def item(entry: DigestItem, view: ItemView, cap: int = MAX_TEXT, most: int | None = None) -> Any:
    """One digest item as the payload has it."""
    event = entry.event
    out: dict[str, Any] = {"number": view.number}
    out.update(_record(event.record, event.type, cap, most))
    together = entry.together if most is None else entry.together[:most]
    if len(together) < len(entry.together):
        out["truncated"]["together"] = len(entry.together)
    out.update(
        {
            "flags": [f.kind for f in view.flags],
            "rules": [{"id": rule} for rule in entry.rule_ids],
            "hits": [
                {"field": h.field, "start": h.start, "end": h.end, "term": h.term, "via": h.via}
                for h in entry.hits
            ],
            "previous": _previous(event, view, cap),
            "together": [_record(e.record, e.type, cap, most) for e in together],
        }
    )
    return out


def _payload(ctx: DigestContext, subject: str, items: Sequence[Any], part: tuple[int, int]) -> Any:
    return {
        "type": "watcher.digest",
        "version": VERSION,
        "id": ctx.key,
        "part": {"index": part[0], "of": part[1]},
        "subscription": ctx.subscription.id,
        "cadence": ctx.digest.cadence,
        "period_end": ctx.digest.period_end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": subject,
        "item_count": len(ctx.items),
        "items": list(items),
        "licences": [{"text": lic.text, "url": lic.url or None} for lic in ctx.licences],
    }


def digest(ctx: DigestContext, templates: Templates) -> Message:
    subject = one_line(templates.template("subject.txt.j2", ctx.template_context()), MAX_SUBJECT)
    entries = list(zip(ctx.digest.items, ctx.items, strict=True))
    # A unit is an item and how far it is shrunk (an index into SHRINK). Compact JSON is
    # additive: a body is its frame, each item's own JSON and a comma between two items.
    sizes: dict[tuple[int, int], int] = {}

    def built(unit: tuple[int, int]) -> Any:
        entry, view = entries[unit[0]]
        return item(entry, view, *SHRINK[unit[1]])

    def size(unit: tuple[int, int]) -> int:
        if unit not in sizes:
            sizes[unit] = utf8(to_json(built(unit)))
        return sizes[unit]

    # Measured with the widest part numbers there could be.
    frame = utf8(to_json(_payload(ctx, subject, [], (len(entries), len(entries)))))

    def fits(units: Sequence[tuple[int, int]]) -> bool:
        return frame + sum(size(u) for u in units) + max(0, len(units) - 1) <= MAX_BODY

    def shrink(unit: tuple[int, int]) -> tuple[int, int]:
        for step in range(1, len(SHRINK)):
            if fits([(unit[0], step)]):
                return (unit[0], step)
        return (unit[0], len(SHRINK) - 1)  # as small as it gets: sent over the limit, not lost

    parts = pack([(i, 0) for i in range(len(entries))], fits, shrink)
    bodies = tuple(
        to_json(_payload(ctx, subject, [built(u) for u in units], (n, len(parts))))
        for n, units in enumerate(parts, 1)
    )
    return Message(ctx.key, subject=subject, bodies=bodies)


def note(message: Message) -> Message:
    body = {
        "type": "watcher.note",
        "version": VERSION,
        "id": message.idempotency_key,
        "part": {"index": 1, "of": 1},
        "subject": message.subject,
        "text": message.text[:MAX_TEXT],
    }
    return Message(message.idempotency_key, subject=message.subject, bodies=(to_json(body),))


FORMAT = Format("webhook", TEMPLATES, digest, note)
