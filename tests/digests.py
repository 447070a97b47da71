"""Digests for the message-format tests (``test_chat_formats``, ``test_webhook_format``): a
small one with a question, a correction and a feed entry; one of 120 items; one of hostile
text; one with an item of every kind the fixtures hold. Records are built as the sources
build them (the recorded fixtures, the golden records beside them)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from watcher.config import Cadence, Subscription
from watcher.kinds import kind_of
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE, OPEN_GOVERNMENT_LICENCE_URL
from watcher.kinds.questions import revise, written_question
from watcher.match import Document, match_document, parse
from watcher.model import (
    Attachment,
    Digest,
    DigestItem,
    Event,
    EventType,
    GroupedQuestion,
    Hit,
    Message,
    Person,
    Record,
    Status,
    Text,
    record_from_dict,
)
from watcher.render import Licence, Renderer
from watcher.sources.parliament import parse_question
from watcher.testing.fakeapi import load_fixtures
from watcher.text import from_html, from_plain

DATA = Path(__file__).parent / "data"
LONDON = ZoneInfo("Europe/London")
PERIOD_END = datetime(2024, 1, 22, 9, 0, tzinfo=UTC)
SUB = Subscription(
    id="policy",
    rules=("send-workforce",),
    channel="chat",
    to=(),
    digest=Cadence(kind="immediate"),
)
RULE = '"SEND workforce" OR workforce'
OGL = Licence(OPEN_GOVERNMENT_LICENCE, OPEN_GOVERNMENT_LICENCE_URL)
QUESTION_URL = "https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/"


def renderer(templates: Path | None = None) -> Renderer:
    return Renderer(str(templates) if templates else None, licences={"dfe": OGL})


def render(digest: Digest, fmt: str, r: Renderer | None = None) -> Message:
    return (r or renderer()).render(digest, fmt, SUB, LONDON, idempotency_key="digest-key")


def bodies(message: Message) -> list[Any]:
    return [json.loads(b) for b in message.bodies]


def hits(r: Record, rule: str = RULE) -> tuple[Hit, ...]:
    return match_document(parse(rule), Document.from_record(r)) or ()


def item(event: Event, *together: Event) -> DigestItem:
    return DigestItem(event, SUB.rules, hits(event.record), together)


def digest(*items: DigestItem) -> Digest:
    return Digest(SUB.id, tuple(items), PERIOD_END, "immediate")


def question(n: int, answer: str | Text, **changes: Any) -> Record:
    base = written_question(
        source="written-questions",
        key=f"q{n}",
        title=f"Special Educational Needs: Workforce {n}",
        url=f"{QUESTION_URL}{9000 + n}",
        status=Status.ANSWERED,
        house="Commons",
        uin=str(9000 + n),
        department="Department for Education",
        department_id=60,
        asked_by=Person(4001, "Jane Member", "Labour", "Bristol North"),
        answered_by=Person(5001, "David Johnston", "Conservative", "Wantage"),
        question=from_html(
            "<p>To ask the Secretary of State for Education, what steps she is taking to "
            "grow the SEND workforce.</p>"
        ),
        answer=from_html(answer) if isinstance(answer, str) else answer,
        date_tabled=date(2024, 1, 8),
        date_answered=date(2024, 1, 15),
    )
    return revise(base, **changes)


def feed_entry() -> Record:
    return Record(
        source="dfe",
        key="tag:www.gov.uk,2005:/government/news/send-workforce",
        kind="feed_entry",
        title="New SEND workforce plan published",
        url="https://www.gov.uk/government/news/send-workforce",
        day=date(2024, 1, 16),
        texts={"summary": from_html("<p>The plan sets out how the workforce will grow.</p>")},
        facets={"organisation": ("Department for Education",), "category": ("News",)},
    )


def small() -> Digest:
    """A question, a correction (against the stored version) and a feed entry."""
    answered = question(1, "<p>We will publish a SEND workforce plan in the spring.</p>")
    before = question(
        2,
        "<p>A steering group has now been established to oversee SEND workforce planning.</p>",
    )
    after = revise(
        before,
        answer=from_html(
            "<p>A steering group was established in 2023 to oversee SEND workforce planning.</p>"
        ),
        is_correction=True,
        date_corrected=date(2024, 1, 22),
        corrected_by=Person(5001, "David Johnston", "Conservative", "Wantage"),
    )
    return digest(
        item(Event(EventType.ANSWERED, answered)),
        item(Event(EventType.CORRECTED, after, previous=before)),
        item(Event(EventType.PUBLISHED, feed_entry())),
    )


def large(n: int = 120, words: int = 0) -> Digest:
    """``n`` answered questions of growing length (or each of ``words`` words), each with its
    own link (``QUESTION_URL`` + 9000 + its number) and a hit."""
    out = []
    for i in range(1, n + 1):
        count = words or 15 * i
        filler = " ".join(f"word{k}" for k in range(count))
        r = question(i, f"<p>{filler} to grow the SEND workforce.</p>")
        out.append(item(Event(EventType.ANSWERED, r)))
    return digest(*out)


HOSTILE = (
    "<!channel> <!here> <@U123> @everyone @here *bold* _it_ ~gone~ `code` "
    "[click](https://evil.example) | > quoted # heading \ud800 & more"
)


def hostile() -> Digest:
    """Every item text a source could use to ping, format or break a message."""
    r = question(
        1,
        "<p>&lt;!channel&gt; the SEND workforce @everyone *now* [x](https://evil.example)</p>",
        title=HOSTILE,
        asked_by=Person(1, "<@U999> | Eve > *", "@here", None),
        department="Dept | of <!everyone>",
        attachments=(Attachment("javascript:alert(1)", "[evil](javascript:alert(1))"),),
    )
    return digest(item(Event(EventType.ANSWERED, r)))


def together() -> Digest:
    """Two questions answered together: one item, the other shown with it."""
    first = question(
        1, "<p>The SEND workforce will grow.</p>", grouped=(GroupedQuestion("9002", None),)
    )
    second = question(
        2, "<p>The SEND workforce will grow.</p>", grouped=(GroupedQuestion("9001", None),)
    )
    return digest(
        DigestItem(
            Event(EventType.ANSWERED, first),
            SUB.rules,
            hits(first),
            (Event(EventType.ANSWERED, second),),
        )
    )


def every_kind() -> list[Record]:
    """A record of every kind the fixtures hold, as its source parses it."""
    records = [parse_question(v, "written-questions") for v in load_fixtures()]
    for path in sorted(DATA.glob("*/*.records.json")):
        records += [record_from_dict(v) for v in json.loads(path.read_text(encoding="utf-8"))]
    return records


def event_of(r: Record) -> Event:
    """The event a record makes when first seen, as its kind says."""
    made = kind_of(r.kind).event(r, None)
    return made or Event(EventType.PUBLISHED, r)


def long_text(chars: int) -> Text:
    words = []
    size = 0
    while size < chars:
        words.append(f"word{len(words)}")
        size += len(words[-1]) + 1
    return from_plain(" ".join(words) + " SEND workforce")
