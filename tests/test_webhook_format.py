"""The ``webhook`` format's payload, a public contract: every payload it makes (an item of every
kind the fixtures hold, corrections, questions answered together, long digests split into
parts, notes) validates against ``docs/webhook-payload.schema.json``; the schema documents
every field (validated here with unknown fields refused, though receivers must accept them);
texts are cut at the documented size and say so; a golden payload shows the shape."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from digests import (
    QUESTION_URL,
    SUB,
    bodies,
    digest,
    event_of,
    every_kind,
    hostile,
    item,
    large,
    long_text,
    question,
    render,
    renderer,
    small,
    together,
)
from test_render_golden import GOLDEN, check_golden

from watcher.incidents import Kind, Notice
from watcher.model import Event, EventType, Message
from watcher.render.notices import notice_message
from watcher.render.webhook import MAX_BODY, MAX_TEXT

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "webhook-payload.schema.json"


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists an object's fields, so a field
    the format sends and the schema does not document fails here."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and schema.get("type") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    strict(SCHEMA), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def valid(message: Message) -> list[Any]:
    out = []
    for raw in message.bodies:
        assert len(raw.encode("utf-8")) <= MAX_BODY
        payload = json.loads(raw)
        errors = sorted(VALIDATOR.iter_errors(payload), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
        out.append(payload)
    return out


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_strict_schema_refuses_an_undocumented_field() -> None:
    [payload] = valid(render(small(), "webhook"))
    payload["items"][0]["surprise"] = 1
    assert not VALIDATOR.is_valid(payload)
    # Receivers validating with the published schema accept it: fields are added within v1.
    assert jsonschema.Draft202012Validator(SCHEMA).is_valid(payload)


def test_a_small_digest_matches_the_golden_payload() -> None:
    message = render(small(), "webhook")
    [payload] = valid(message)
    check_golden(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", GOLDEN / "webhook.json")
    assert payload["id"] == message.idempotency_key == "digest-key"
    assert payload["part"] == {"index": 1, "of": 1}
    assert payload["subject"] == message.subject
    assert [i["number"] for i in payload["items"]] == [1, 2, 3]
    assert [i["event"] for i in payload["items"]] == ["answered", "corrected", "published"]
    assert payload["items"][0]["url"] == f"{QUESTION_URL}9001"


def test_a_hit_indexes_the_text_it_names() -> None:
    [payload] = valid(render(small(), "webhook"))
    first = payload["items"][0]
    answer_hits = [h for h in first["hits"] if h["field"] == "answer"]
    assert answer_hits
    for h in answer_hits:
        assert first["texts"]["answer"][h["start"] : h["end"]].lower() in (
            "send workforce",
            "workforce",
        )


def test_a_correction_carries_the_answer_it_replaced() -> None:
    [payload] = valid(render(small(), "webhook"))
    correction = payload["items"][1]
    assert correction["event"] == "corrected"
    assert "corrected" in correction["flags"]
    assert correction["dates"]["corrected"] == "2024-01-22"
    assert "has now been established" in correction["previous"]["texts"]["answer"]
    assert "was established in 2023" in correction["texts"]["answer"]
    assert payload["items"][0]["previous"] is None


@pytest.mark.parametrize("maker", [every_kind], ids=["every kind in the fixtures"])
def test_an_item_of_every_kind_validates(maker: Any) -> None:
    records = maker()
    payloads = valid(render(digest(*(item(event_of(r)) for r in records)), "webhook"))
    items = [i for p in payloads for i in p["items"]]
    assert {i["kind"] for i in items} == {r.kind for r in records}
    assert [(i["source"], i["key"]) for i in items] == [(r.source, r.key) for r in records]
    licences = {lic["text"] for p in payloads for lic in p["licences"]}
    assert any("Open Parliament Licence" in text for text in licences)


def test_questions_answered_together_are_one_item_with_the_other_in_together() -> None:
    [payload] = valid(render(together(), "webhook"))
    [first] = payload["items"]
    assert [t["key"] for t in first["together"]] == ["q2"]
    assert first["together"][0]["texts"]["question"].startswith("To ask the Secretary")


def test_hostile_text_is_sent_as_data() -> None:
    [payload] = valid(render(hostile(), "webhook"))
    [hostile_item] = payload["items"]
    assert "<!channel>" in hostile_item["title"]  # data, as the source has it...
    assert "\ud800" not in hostile_item["title"]  # ...but always encodable
    assert hostile_item["attachments"] == [{"title": "[evil](javascript:alert(1))", "url": None}]


def test_a_120_item_digest_validates_and_every_item_is_in_one_part_in_order() -> None:
    message = render(large(120), "webhook")
    payloads = valid(message)
    numbers = [i["number"] for p in payloads for i in p["items"]]
    assert numbers == list(range(1, 121))
    assert all(p["item_count"] == 120 for p in payloads)


def test_a_digest_over_the_body_size_is_split_into_parts_under_one_id() -> None:
    # 120 answers of 30,000 characters: over 3.6 MB of text, cut to 20,000 each.
    items = [item(Event(EventType.ANSWERED, question(n, long_text(30_000)))) for n in range(1, 121)]
    message = render(digest(*items), "webhook")
    payloads = valid(message)
    assert len(payloads) > 4
    assert {p["id"] for p in payloads} == {"digest-key"}
    assert [p["part"] for p in payloads] == [
        {"index": n, "of": len(payloads)} for n in range(1, len(payloads) + 1)
    ]
    numbers = [i["number"] for p in payloads for i in p["items"]]
    assert numbers == list(range(1, 121))
    first = payloads[0]["items"][0]
    assert len(first["texts"]["answer"]) == MAX_TEXT
    assert first["truncated"] == {"answer": len(long_text(30_000).plain)}
    assert long_text(30_000).plain.startswith(first["texts"]["answer"])


def test_an_item_too_big_for_a_body_of_its_own_is_shrunk_not_dropped() -> None:
    # A question answered together with 60 others, each question of 20,000 characters.
    others = [
        Event(EventType.ANSWERED, question(n, "<p>Same.</p>", question=long_text(19_000)))
        for n in range(2, 62)
    ]
    big = item(Event(EventType.ANSWERED, question(1, "<p>The SEND workforce.</p>")), *others)
    last = item(Event(EventType.ANSWERED, question(99, "<p>The SEND workforce.</p>")))
    message = render(digest(big, last), "webhook")
    payloads = valid(message)
    shrunk = payloads[0]["items"][0]
    assert shrunk["number"] == 1
    assert len(shrunk["together"]) == 60
    # Each question keeps less than the usual 20,000 characters, and says how long it was.
    for t in shrunk["together"]:
        assert len(t["texts"]["question"]) < MAX_TEXT
        assert t["truncated"]["question"] == len(long_text(19_000).plain)
    assert payloads[-1]["items"][-1]["key"] == "q99"


def test_notes_validate() -> None:
    test = renderer().test_message(SUB, "test-key", datetime(2024, 1, 22, 9, tzinfo=UTC))
    notice = notice_message(
        Notice(
            source="written-questions",
            kind=Kind.FAILING,
            opened=True,
            since=datetime(2024, 1, 22, 6, tzinfo=UTC),
            at=datetime(2024, 1, 22, 9, tzinfo=UTC),
            detail="HTTP 500",
        ),
        "ops",
        UTC,
    )
    for note in (test, notice, Message("k", subject="long", text="word " * 10_000)):
        [payload] = valid(renderer().note(note, "webhook"))
        assert payload["type"] == "watcher.note"
        assert payload["id"] == note.idempotency_key
        assert payload["subject"] == note.subject
        assert note.text.startswith(payload["text"])


def test_the_payload_is_data_not_a_template(tmp_path: Path) -> None:
    # Only the subject is a template's; a user's chat templates change nothing here.
    (tmp_path / "slack").mkdir()
    (tmp_path / "slack" / "item.md.j2").write_text("MINE")
    (tmp_path / "subject.txt.j2").write_text("Our subject")
    [payload] = bodies(render(small(), "webhook", renderer(tmp_path)))
    assert payload["subject"] == "Our subject"
    reference = copy.deepcopy(bodies(render(small(), "webhook"))[0])
    reference["subject"] = "Our subject"
    assert payload == reference
