"""Golden digests for corrections: the whole email, text and HTML, against checked-in files.

The files in ``tests/golden/`` are what a reader receives, so a change to the templates or to
how corrections are marked shows up as a reviewable diff. After a deliberate change, rewrite
them with

    WATCHER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py

and read the diff of ``tests/golden/`` before committing it. Without the variable a difference
fails the test and prints a unified diff.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from watcher.config import Cadence, Subscription
from watcher.match import match, parse
from watcher.model import Digest, DigestItem, Event, EventType, Message, Record
from watcher.render import Renderer
from watcher.sources.parliament import parse_question
from watcher.testing.fakeapi import FakeParliamentAPI, load_fixtures

GOLDEN = Path(__file__).parent / "golden"
UPDATE_ENV = "WATCHER_UPDATE_GOLDEN"
SOURCE = "written-questions"
RULE = '"SEND workforce" OR ("special educational needs" AND workforce)'  # the demo's rule
SUB = Subscription(
    id="policy",
    rules=("send-workforce",),
    channel="email",
    to=("policy@example.org",),
    digest=Cadence(kind="immediate"),
)
CORRECTED_ON = date(2024, 1, 22)


def check_golden(actual: str, path: Path) -> None:
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run with {UPDATE_ENV}=1 to write it")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(path),
                tofile="rendered",
            )
        )
        pytest.fail(
            f"the rendered digest differs from {path.name}; if that is intended, rerun with "
            f"{UPDATE_ENV}=1 and review the diff\n{diff}"
        )


def email(previous: Record | None, corrected: Record) -> Message:
    hits = match(parse(RULE), corrected.fields())
    assert hits is not None  # the correction must match the rule for it to be in a digest
    digest = Digest(
        subscription_id=SUB.id,
        items=(DigestItem(Event(EventType.CORRECTED, corrected, previous), (SUB.rules[0],), hits),),
        period_end=datetime(2024, 1, 22, 9, 0, tzinfo=UTC),
        cadence="immediate",
    )
    return Renderer().render(
        digest,
        "email",
        SUB,
        ZoneInfo("Europe/London"),
        idempotency_key="golden-correction",
        sender="Parliament Watcher <alerts@example.org>",
    )


def seed_api() -> tuple[FakeParliamentAPI, dict[str, Any]]:
    # The server is not started: correct() edits the values it would serve, which is all
    # these tests need.
    api = FakeParliamentAPI(load_fixtures())
    return api, next(q for q in api.questions.values() if q["uin"] == "8602")


def test_the_demos_correction_marks_the_changed_phrase() -> None:
    api, seed = seed_api()
    corrected = api.correct(
        "8602",
        "a steering group has now been established",
        "a steering group was established in 2023",
        on=CORRECTED_ON,
    )
    message = email(parse_question(seed, SOURCE), parse_question(corrected, SOURCE))

    check_golden(message.text, GOLDEN / "correction.txt")
    check_golden(message.html, GOLDEN / "correction.html")
    # What the golden files must show, whoever regenerates them:
    assert (
        "…workforce planning, and a steering group [-has now been established-] "
        "{+was established in 2023+} to oversee this work."
    ) in message.text
    assert ">has now been established</del> <ins " in message.html
    assert ">was established in 2023</ins> to oversee this work." in message.html


def test_a_correction_with_several_changes_shows_each_as_its_own_passage() -> None:
    api, seed = seed_api()
    value = api.correct("8602", "On the 14 November 2023", "On the 21 November 2023", CORRECTED_ON)
    for old, new in (
        (
            "Department of Health and Social Care",
            "Department of Health and Social Care and NHS England",
        ),
        (
            " and introduced the department’s new ‘Partnerships for Inclusion of Neurodiversity in "
            "Schools’ (PINS) programme",
            "",
        ),
        ("from the coalition last year", "from the coalition in June 2023"),
    ):
        assert old in value["answerText"]
        value["answerText"] = value["answerText"].replace(old, new)
    value["correctingMemberId"] = seed["answeringMemberId"]
    value["correctingMember"] = seed["answeringMember"]
    # First seen already corrected: the old answer is the source's originalAnswerText.
    message = email(None, parse_question(value, SOURCE))

    check_golden(message.text, GOLDEN / "correction-several.txt")
    check_golden(message.html, GOLDEN / "correction-several.html")
    changed = message.text.split("What changed in the answer:\n", 1)[1].split("\n\nAsked by", 1)[0]
    assert changed.split("\n\n") == [
        "…Department of Health and Social Care {+and NHS England+} to take a joint approach to…",
        "…on ongoing policy work. On the [-14-] {+21+} November 2023, officials from the "
        "Department…",
        "…work relating to SEND Practitioner Standards [-and introduced the department’s new "
        "‘Partnerships for Inclusion of Neurodiversity in Schools’ (PINS) programme-]. Officials "
        "have taken on board the…",
        "…with the representatives from the coalition [-last year-] {+in June 2023+}, and the "
        "minister looks forward to…",
    ]
    assert message.html.count("<del ") == 1 + 3  # the key, then the three removals
    assert message.html.count("<ins ") == 1 + 3
    assert "Corrected on 22 January 2024 by David Johnston" in message.text


def test_a_difference_from_the_golden_file_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    path = tmp_path / "golden.txt"
    path.write_text("was established in 2023\n", encoding="utf-8")
    check_golden("was established in 2023\n", path)
    with pytest.raises(
        pytest.fail.Exception, match=r"-was established in 2023\n\+was established in 2022"
    ):
        check_golden("was established in 2022\n", path)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        check_golden("anything", tmp_path / "absent.txt")
