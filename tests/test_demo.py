"""``watcher demo`` as someone evaluating the project runs it: the real command in a subprocess,
offline, with no config. What it says about the fixtures is checked against the fixtures and
against a fake API of the test's own, not against the demo's code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from watcher.testing.fakeapi import LIST_PATH, FakeParliamentAPI, load_fixtures
from watcher.text import html_to_text

SEED_LINK = "https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602"


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "demo", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        # The demo needs no config: a broken one must not matter.
        env={**os.environ, "WATCHER_CONFIG": "/nonexistent"},
    )


def fixture(uin: str) -> dict[str, Any]:
    return next(q for q in load_fixtures() if q["uin"] == uin)


def flat(text: str) -> str:
    """Output with line wrapping undone, for sentences the demo wraps to its width."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def saved(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo") / "not" / "yet" / "there"
    result = demo("--save", str(out))
    assert result.returncode == 0, result.stderr
    return result, out


@pytest.fixture(scope="module")
def output(saved: tuple[subprocess.CompletedProcess[str], Path]) -> str:
    return saved[0].stdout


def test_demo_runs_offline_and_prints_the_digest() -> None:
    result = demo()
    assert result.returncode == 0, result.stderr
    assert "SEND workforce" in result.stdout
    assert SEED_LINK in result.stdout
    assert "Traceback" not in result.stderr
    assert "saved" not in result.stdout  # nothing is written without --save


def test_demo_shows_the_list_endpoint_cutting_the_seed_answer_before_the_phrase(
    output: str,
) -> None:
    seed = fixture("8602")
    with FakeParliamentAPI.with_fixtures() as api:
        page = httpx.get(f"{api.base_url}{LIST_PATH}", params={"take": 100}).json()
    [listed] = [r["value"] for r in page["results"] if r["value"]["uin"] == "8602"]
    full = html_to_text(seed["answerText"])
    start = full.index("SEND workforce")

    assert listed["answerText"].endswith("approach to SEND...")  # the cut, as served
    assert 'approach to SEND..."' in output  # the demo shows the listing's end
    said = flat(output)
    assert f'"SEND workforce" first spans characters {start + 1} to {start + 14}' in said
    assert start < 255 < start + 14
    assert "across the cut" in said
    assert f"fetched from GET {LIST_PATH}/{seed['id']}" in said
    assert f"has {len(full)} characters" in said
    assert (
        'The rule "SEND workforce" does not match the listed text and matches the fetched' in said
    )


def test_demo_says_the_seed_questions_asking_member_is_synthetic(output: str) -> None:
    asker = fixture("8602")["askingMember"]
    said = flat(output)
    assert f"The asking member, {asker['name']} ({asker['party']}, {asker['memberFrom']})" in said
    assert f"{asker['name']} ({asker['party']}, {asker['memberFrom']}), is synthetic" in said
    # The same synthetic member is who the email names.
    assert f"Asked by: {asker['name']}" in output


def test_demo_shows_send_as_a_verb_listed_fetched_and_not_matched(output: str) -> None:
    verb = next(q for q in load_fixtures() if "send the guidance" in q["answerText"])
    sends = re.findall(r"\bsend\b", f"{verb['questionText']} {html_to_text(verb['answerText'])}")
    said = flat(output)
    assert f'UIN {verb["uin"]}, "{verb["heading"]}" (a synthetic question)' in said
    assert f"Listed, fetched from GET {LIST_PATH}/{verb['id']}, and matched by no rule" in said
    assert f'Its text says "send" {len(sends)} times' in said
    assert "[send] the guidance to schools" in output
    assert "SEND, the acronym for special educational needs and disabilities, finds none" in said
    # Not matched means not mailed: no email the demo printed names it.
    emails = re.findall(r"^-{78}\n(.*?)^-{78}$", output, re.MULTILINE | re.DOTALL)
    assert len(emails) == 2
    assert not [e for e in emails if verb["heading"] in e or f"UIN {verb['uin']}" in e]


def test_demo_save_writes_each_received_message_as_eml_and_its_html_part(
    saved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, out = saved
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "01-new-answer.eml",
        "01-new-answer.html",
        "02-corrected-answer.eml",
        "02-corrected-answer.html",
    ]
    for name in names:
        assert f"   {out / name}\n" in result.stdout  # the demo prints where it wrote

    printed_ids = re.findall(r"^Message-ID: (.+)$", result.stdout, re.MULTILINE)
    subjects = []
    for number, stem in enumerate(["01-new-answer", "02-corrected-answer"]):
        raw = (out / f"{stem}.eml").read_bytes()
        assert b"\r\n" in raw  # as it crossed SMTP, not re-serialised
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        assert message["Message-ID"] == printed_ids[number]
        html = message.get_body(("html",))
        assert html is not None
        page = (out / f"{stem}.html").read_bytes().decode("utf-8")
        assert page == html.get_content()
        assert "<mark>SEND workforce</mark>" in page
        subjects.append(message["Subject"])
    assert "new answer" in subjects[0]
    assert "corrected answer" in subjects[1]


def test_demo_save_to_a_place_that_cannot_be_a_directory_is_a_clear_error(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = demo("--save", str(blocker / "emails"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"watcher: --save {blocker / 'emails'}: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # it stops before starting anything
