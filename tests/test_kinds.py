"""The item model with plain values: records of every kind, their kinds' events, what rules
read of them, and how a digest shows them (``watcher.kinds``, ``model``, ``match``, ``render``).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watcher import diff
from watcher.config import Cadence, Subscription
from watcher.errors import QuerySyntaxError
from watcher.kinds import KINDS, facet_names, kind_of, text_names
from watcher.kinds.base import facets
from watcher.kinds.questions import revise, written_question
from watcher.match import Document, Rule, RuleSet, match_document, parse
from watcher.model import (
    Attachment,
    Digest,
    DigestItem,
    Event,
    EventType,
    Hit,
    Record,
    Status,
    Text,
    record_from_dict,
    record_from_json,
    record_to_dict,
    record_to_json,
)
from watcher.render import Licence, Renderer
from watcher.text import html_to_text

STATEMENT_TEXT = (
    "<p>Today I am announcing a review of the SEND workforce, led by the Department for "
    "Education.</p>"
)


def text(html: str) -> Text:
    return Text(html, html_to_text(html))


def statement(**changes: object) -> Record:
    base = Record(
        source="statements",
        key="1234",
        kind="written_statement",
        title="Special Educational Needs Workforce",
        url="https://questions-statements.parliament.uk/written-statements/detail/2024-01-15/HCWS200",
        day=date(2024, 1, 15),
        texts={"text": text(STATEMENT_TEXT)},
        facets=facets(
            house=("Commons",),
            department=("Department for Education", 60),
            member=("David Johnston", 4835),
            party=("Conservative",),
            uin=("HCWS200",),
        ),
        attachments=(Attachment("https://example.org/review.pdf", "Terms of reference"),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def entry(**changes: object) -> Record:
    base = Record(
        source="dfe",
        key="tag:www.gov.uk,2005:/government/news/send-workforce",
        kind="feed_entry",
        title="New SEND workforce plan published",
        url="https://www.gov.uk/government/news/send-workforce",
        day=date(2024, 1, 16),
        texts={"summary": text("<p>The plan sets out how the workforce will grow.</p>")},
        facets=facets(organisation=("Department for Education",), category=("News",)),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def question() -> Record:
    return written_question(
        source="parliament",
        key="1679416",
        title="Special Educational Needs",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602",
        status=Status.ANSWERED,
        house="Commons",
        uin="8602",
        department="Department for Education",
        department_id=60,
        answer=text("<p>A joint approach to SEND workforce planning.</p>"),
        date_tabled=date(2024, 1, 8),
        date_answered=date(2024, 1, 15),
    )


# --- the model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [statement, entry, question], ids=["statement", "entry", "question"]
)
def test_every_kind_of_record_is_stored_and_read_back_unchanged(make: object) -> None:
    r = make()  # type: ignore[operator]
    assert record_from_json(record_to_json(r)) == r
    assert record_from_dict(record_to_dict(r)) == r
    assert record_from_json(record_to_json(r)).fingerprint == r.fingerprint


def test_a_question_record_says_the_same_thing_in_its_facets_and_its_body() -> None:
    r = question()
    assert r.facets["department"] == ("Department for Education", "60")
    assert r.facets["house"] == ("Commons",)
    assert r.day == date(2024, 1, 15)  # its latest dated moment: the answer
    moved = revise(r, department="Department for Work and Pensions", department_id=29)
    assert moved.facets["department"] == ("Department for Work and Pensions", "29")


def test_a_lone_surrogate_in_a_title_is_fingerprinted_not_refused() -> None:
    # A "\ud800" escape in a source's JSON decodes to a lone surrogate; hashing must not raise.
    assert statement(title="Schools \ud800").fingerprint != statement().fingerprint


def test_what_a_kind_calls_its_texts_and_facets_is_what_rules_can_name() -> None:
    assert {"title", "heading", "question", "answer", "text", "summary"} <= set(text_names())
    for name in ("department", "member", "organisation", "author", "type", "source"):
        assert name in facet_names()
    for kind in KINDS.values():
        # Every text and facet a kind has can be written in a rule, and filters that kind.
        for name in (*kind.texts, *kind.facets):
            parse(f"{name}:commons")
        parse(f"type:{kind.noun}")
        assert set(kind.default_events) <= set(kind.events)
        assert kind.licence or kind.name == "feed_entry"


# --- events ---------------------------------------------------------------------------------


def test_an_item_without_a_life_of_its_own_is_published_then_updated() -> None:
    first = statement()
    [new] = diff.events([first], {})
    assert (new.type, new.previous) == (EventType.PUBLISHED, None)

    edited = statement(texts={"text": text(STATEMENT_TEXT.replace("review", "full review"))})
    [changed] = diff.events([edited], {first.key: first})
    assert (changed.type, changed.previous) == (EventType.UPDATED, first)

    for same in (
        statement(),  # polled again
        statement(texts={"text": text(STATEMENT_TEXT.replace("<p>", "<p >"))}),  # markup only
        statement(facets={**first.facets, "party": ("Labour",)}),  # a relabelled facet
        statement(day=date(2024, 1, 16)),  # a moved date alone
    ):
        assert diff.events([same], {first.key: first}) == []


@pytest.mark.parametrize(
    "change",
    [{"title": "Special Educational Needs: Workforce"}, {"url": "https://example.org/moved"}],
    ids=["title", "link"],
)
def test_a_new_title_or_link_is_an_update(change: dict[str, str]) -> None:
    first = entry()
    [event] = diff.events([entry(**change)], {first.key: first})
    assert event.type is EventType.UPDATED


def test_an_item_is_dated_by_its_day_in_a_backtest() -> None:
    assert diff.life_events(statement(), date(2024, 3, 1)) == (
        (EventType.PUBLISHED, date(2024, 3, 1)),
    )
    assert kind_of("written_statement").event_day(Event(EventType.PUBLISHED, statement())) == (
        date(2024, 1, 15)
    )


# --- what rules read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ('"SEND workforce"', True),
        ('text:"SEND workforce"', True),
        ('answer:"SEND workforce"', False),  # a statement has no answer
        ("title:workforce", True),
        ("heading:workforce", True),  # the older name of title:
        ("workforce type:statement", True),
        ("workforce type:question", False),
        ("workforce source:statements", True),
        ("workforce source:parliament", False),
        ("workforce department:60", True),
        ('workforce department:"Department for Education"', True),
        ("workforce department:29", False),
        ('workforce member:"David Johnston"', True),
        ("workforce member:4835", True),
        ("workforce uin:HCWS200", True),
        ("workforce house:lords", False),
        ("workforce house:commons", True),
        ("workforce asked_by:4835", False),  # a facet the kind lacks never matches
        ("workforce author:Johnston", False),
    ],
)
def test_rules_read_a_statements_texts_and_facets(query: str, matches: bool) -> None:
    found = match_document(parse(query), Document.from_record(statement()))
    assert (found is not None) is matches


def test_a_hit_in_the_title_names_the_title() -> None:
    hits = match_document(parse("heading:workforce"), Document.from_record(statement()))
    assert hits == (Hit("title", 26, 35, "workforce"),)


def test_a_rule_without_events_gets_each_kinds_defaults() -> None:
    rules = RuleSet(
        [
            Rule("any", parse("workforce")),
            Rule("answers-only", parse("workforce"), frozenset({EventType.ANSWERED})),
        ]
    )
    published = Event(EventType.PUBLISHED, statement())
    answered = Event(EventType.ANSWERED, question())
    tabled = Event(EventType.TABLED, revise(question(), status=Status.TABLED, answer=None))
    found = [(m.rule_id, m.event.type) for m in rules.match_events([published, answered, tabled])]
    # "workforce" is only in the question's answer, so its tabled version matches nothing.
    assert found == [
        ("any", EventType.PUBLISHED),
        ("any", EventType.ANSWERED),
        ("answers-only", EventType.ANSWERED),
    ]


# --- how a digest shows them ----------------------------------------------------------------

SUB = Subscription(
    id="policy",
    rules=("send",),
    channel="mail",
    to=("policy@example.org",),
    digest=Cadence(kind="immediate"),
)


def render(*events: Event, renderer: Renderer | None = None) -> tuple[str, str]:
    items = []
    for e in events:
        hits = match_document(parse('"SEND workforce"'), Document.from_record(e.record)) or ()
        items.append(DigestItem(e, ("send",), hits))
    digest = Digest("policy", tuple(items), datetime(2024, 1, 16, 9, tzinfo=UTC), "immediate")
    message = (renderer or Renderer()).render(
        digest, "email", SUB, ZoneInfo("Europe/London"), "key", sender="Watcher <w@example.org>"
    )
    return message.text, message.html


def test_a_statement_in_a_digest_shows_its_text_who_made_it_and_its_licence() -> None:
    plain, html = render(Event(EventType.PUBLISHED, statement()))
    assert "New | House of Commons | UIN HCWS200" in plain
    assert "By: David Johnston" in plain
    assert "Department: Department for Education" in plain
    assert "a review of the [[SEND workforce]], led by" in plain
    assert ">SEND workforce</mark>" in html
    assert "Terms of reference" in plain
    assert (
        "Read it on the Parliament website: "
        "https://questions-statements.parliament.uk/written-statements/detail/2024-01-15/HCWS200"
    ) in plain
    assert "Open Parliament Licence v3.0" in plain
    assert "60" not in plain.split("Department:")[1].splitlines()[0]  # names, not ids


def test_a_digest_of_several_kinds_carries_each_licence_once() -> None:
    renderer = Renderer(
        licences={
            "dfe": Licence(
                "Contains public sector information licensed under the Open Government "
                "Licence v3.0.",
                "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            )
        }
    )
    plain, html = render(
        Event(EventType.ANSWERED, question()),
        Event(EventType.PUBLISHED, statement()),
        Event(EventType.PUBLISHED, entry()),
        renderer=renderer,
    )
    assert plain.count("Open Parliament Licence v3.0") == 1
    assert plain.count("Open Government Licence v3.0") == 1
    assert "Read it on GOV.UK: https://www.gov.uk/government/news/send-workforce" in plain
    assert "Summary:\nThe plan sets out how the workforce will grow." in plain
    assert 'href="https://www.nationalarchives.gov.uk/doc/open-government-licence' in html


def test_an_entry_of_a_feed_with_no_licence_named_carries_none() -> None:
    plain, _ = render(Event(EventType.UPDATED, entry()))
    assert "Updated" in plain
    assert "Licence" not in plain


@pytest.mark.parametrize(
    "module",
    ["watcher.diff", "watcher.match", "watcher.digest", "watcher.render", "watcher.kinds"],
)
def test_the_decisions_import_nothing_that_does_io(module: str) -> None:
    # In a fresh interpreter: what this process already imported says nothing.
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('httpx', 'sqlalchemy', 'psycopg', 'aiosmtpd', 'apscheduler', "
        "'feedparser', 'smtplib') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]", f"{module} imports {found}"


def test_each_kind_has_its_item_template_and_a_user_may_replace_one(tmp_path: Path) -> None:
    (tmp_path / "items").mkdir()
    (tmp_path / "items" / "item.txt.j2").write_text(
        "ITEM {{ item.number }}: {{ item.heading_text }}\n"
    )
    renderer = Renderer(str(tmp_path))
    renderer.check()
    plain, _ = render(
        Event(EventType.ANSWERED, question()),
        Event(EventType.PUBLISHED, statement()),
        renderer=renderer,
    )
    assert "ITEM 2: Special Educational Needs Workforce" in plain  # the statement, replaced
    assert "1. Special Educational Needs\nAnswered | House of Commons | UIN 8602" in plain


def test_a_devolved_parliament_is_a_house_rules_can_name() -> None:
    scottish = dataclasses.replace(
        statement(),
        kind="scottish_parliament_question",
        facets=facets(house=("Scottish Parliament",)),
    )
    document = Document.from_record(scottish)
    assert match_document(parse('workforce house:"Scottish Parliament"'), document) is not None
    assert match_document(parse("workforce house:commons"), document) is None
    with pytest.raises(QuerySyntaxError, match='is one of commons, lords, joint, "scottish'):
        parse("house:scotland")
