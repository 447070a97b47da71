"""``watcher demo``: the whole flow offline, for anyone evaluating the project.

Starts a local copy of the Written Questions API serving recorded responses, a local SMTP
server, and a real service on a temporary SQLite store; polls, sends, shows the email that
arrived; shows the two details the product exists for (the list endpoint truncates the seed
answer before its "SEND workforce", and "send" as a verb is not SEND), read from what the fake
API serves and what the pipeline stored; then publishes a correction of the answer and shows
the "corrected" email. With ``save``, each received message is written as .eml and .html.
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from watcher import pipeline, sending, service
from watcher.config import load
from watcher.kinds.questions import question_of
from watcher.match import match, parse
from watcher.model import Hit, Record
from watcher.testing.fakeapi import LIST_PATH, TRUNCATE_AT, FakeParliamentAPI
from watcher.testing.smtp import Received, SmtpTestServer

SINCE = date(2024, 1, 8)
SEED_UIN = "8602"  # seed-send-workforce.json: the answer the product was built around
VERB_UIN = "9871"  # send-as-verb.json: "send" as a verb, never the acronym
PHRASE = '"SEND workforce"'
WIDTH = 78
NBSP = "\u00a0"

CONFIG = """\
store: sqlite:///{tmp}/watcher.db
data_dir: {tmp}/data
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api}
    max_per_second: 20    # a local server; the default of 4 is for the real API
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {port}
    security: none
    from: "Parliament Watcher <alerts@example.org>"
rules:
  - id: send-workforce
    query: '"SEND workforce" OR ("special educational needs" AND workforce)'
subscriptions:
  - rules: [send-workforce]
    to: [policy@example.org]
    digest: immediate
"""


@dataclass(frozen=True)
class Arrived:
    """One message the SMTP server accepted, with the demo step that caused it."""

    step: str  # a file-name word: "new-answer", "corrected-answer"
    received: Received


def run_demo(save: Path | None = None) -> int:
    if save is not None:
        try:
            save.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"watcher: --save {save}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    arrived: list[Arrived] = []
    with (
        tempfile.TemporaryDirectory(prefix="watcher-demo-") as tmp,
        FakeParliamentAPI.with_fixtures() as api,
        SmtpTestServer() as smtp,
    ):
        path = Path(tmp) / "watcher.yaml"
        path.write_text(CONFIG.format(tmp=tmp, api=api.base_url, port=smtp.port))
        print("== watcher demo: recorded Written Questions API at", api.base_url)
        print("== local SMTP server at", f"127.0.0.1:{smtp.port}")
        print("== config:\n" + path.read_text())
        svc = service.build(load(path))
        try:
            steps = _Steps(svc, smtp, arrived)
            steps.run(f"poll answers since {SINCE} and send what matched", "new-answer")
            listed = _listed(api)
            _truncation(svc, api, listed[SEED_UIN])
            _verb(svc, api, listed[VERB_UIN])
            steps.run("poll again: nothing new, so nothing is sent", "unchanged")

            api.correct(
                SEED_UIN,
                "a steering group has now been established",
                "a steering group was established in 2023",
                on=date(2024, 1, 22),
            )
            steps.run(
                "the department corrects its answer (a demo edit): poll and send",
                "corrected-answer",
            )
        finally:
            service.close(svc)
    if save is not None:
        return _save(save, arrived)
    return 0


class _Steps:
    def __init__(self, svc: pipeline.Service, smtp: SmtpTestServer, arrived: list[Arrived]) -> None:
        self._svc = svc
        self._smtp = smtp
        self._arrived = arrived

    def run(self, title: str, step: str) -> None:
        print(f"\n== {title}")
        before = len(self._smtp.received)
        for source_id in self._svc.sources:
            report = pipeline.poll(self._svc, source_id, since=SINCE)
            print(
                f"   poll {source_id}: {report.listed} listed, {report.fetched} fetched in full, "
                f"{report.events} new events"
            )
        sending.send_due(self._svc)
        new = self._smtp.received[before:]
        print(f"   emails received by the SMTP server: {len(new)}")
        for received in new:
            self._arrived.append(Arrived(step, received))
            _show(received.message)


def _listed(api: FakeParliamentAPI) -> dict[str, dict[str, Any]]:
    """Every question as the list endpoint serves it (truncated texts), by UIN."""
    response = httpx.get(
        api.base_url + LIST_PATH, params={"answeredWhenFrom": SINCE.isoformat(), "take": 100}
    )
    response.raise_for_status()
    return {r["value"]["uin"]: r["value"] for r in response.json()["results"]}


def _stored(svc: pipeline.Service, listed: dict[str, Any]) -> Record:
    """The record the pipeline fetched and stored for a listed question."""
    key = str(listed["id"])
    for source_id in svc.sources:
        found = svc.store.current(source_id, [key])
        if key in found:
            return found[key]
    raise LookupError(f"the pipeline stored no record for UIN {listed['uin']}")


def _fetched(api: FakeParliamentAPI, qid: int) -> str:
    path = f"{LIST_PATH}/{qid}"
    served = any(p.rstrip("/") == path for p, _ in list(api.requests))
    return f"fetched from GET {path}" if served else f"NOT fetched from {path}"


def _truncation(svc: pipeline.Service, api: FakeParliamentAPI, listed: dict[str, Any]) -> None:
    record = _stored(svc, listed)
    answer = record.text("answer")
    full = answer.plain if answer else ""
    short: str = listed["answerText"]
    query = parse(PHRASE)
    in_full = [h for h in match(query, {"answer": full}) or () if h.field == "answer"]
    in_short = match(query, {"answer": short})
    print(f'\n== why the listing is not enough: UIN {record.facet("uin")}, "{record.title}"')
    _say(
        f'The list endpoint cuts each answer after {TRUNCATE_AT} characters and adds "...". '
        f"The listed answer of UIN {record.facet('uin')} ends:"
    )
    _quote(_tail(short))
    if not in_full:
        _say(f"The full answer, {_fetched(api, listed['id'])}, does not contain {PHRASE}.")
        return
    hit = in_full[0]
    where = (
        "across the cut"
        if hit.start < TRUNCATE_AT < hit.end
        else "past the cut"
        if hit.start >= TRUNCATE_AT
        else "before the cut"
    )
    _say(
        f"The full answer, {_fetched(api, listed['id'])}, has {len(full)} characters; "
        f"{PHRASE} first spans characters {hit.start + 1} to {hit.end}, {where}:"
    )
    _quote(_around(full, hit))
    _say(
        f"The rule {PHRASE} {'matches' if in_short else 'does not match'} the listed text "
        "and matches the fetched one: watcher reads the listing only to notice what is new or "
        "changed, and matches what it fetches."
    )
    who = question_of(record).asked_by
    asker = f"{who.name} ({who.party}, {who.constituency})" if who else "not named"
    _say(
        f"The asking member, {asker}, is synthetic: the asker is not in the reference "
        "material this question was copied from, so the fixture invents a fictional member "
        "and constituency. Its heading, dates, department, minister and texts are as "
        "published (see watcher/testing/data/README.md)."
    )


def _verb(svc: pipeline.Service, api: FakeParliamentAPI, listed: dict[str, Any]) -> None:
    record = _stored(svc, listed)
    fields = record.fields()
    lower = match(parse("send"), fields) or ()
    acronym = len(match(parse("SEND"), fields) or ())
    matched = [rule.id for rule in svc.rules if match(rule.query, fields) is not None]
    print(
        f'\n== "send" as a verb: UIN {record.facet("uin")}, "{record.title}" (a synthetic question)'
    )
    _say(
        f"Listed, {_fetched(api, listed['id'])}, and matched by "
        f"{'the rules ' + ', '.join(matched) if matched else 'no rule'}. "
        f'Its text says "send" {len(lower)} times:'
    )
    for hit in sorted(lower, key=lambda h: (list(fields).index(h.field), h.start)):
        _quote(_around(fields[hit.field], hit), label=f"{hit.field}:")
    _say(
        "A query word written in capitals accepts only capitals, so SEND, the acronym for "
        "special educational needs and disabilities, finds "
        f"{'none' if acronym == 0 else acronym} of them; a rule written send, in lower case, "
        f"would find {'all ' if len(lower) > 1 else ''}{len(lower)}."
    )


def _say(text: str) -> None:
    # A quoted phrase stays on one line: textwrap breaks only at ASCII whitespace.
    text = re.sub(r'"[^"]*"', lambda m: m.group().replace(" ", NBSP), text)
    wrapped = textwrap.fill(text, WIDTH, initial_indent="   ", subsequent_indent="   ")
    print(wrapped.replace(NBSP, " "))


def _quote(text: str, label: str = "") -> None:
    print(f"     {label:<10}" if label else "     ", end="")
    print(f'"{text}"')


def _tail(text: str, size: int = 70) -> str:
    """The end of ``text``, from a word start."""
    if len(text) <= size:
        return text
    return "…" + text[-size:].split(" ", 1)[-1]


def _around(text: str, hit: Hit, before: int = 40, after: int = 30) -> str:
    """The hit marked [like this] in a one-line excerpt of ``text`` cut at word ends."""
    head = text[max(hit.start - before, 0) : hit.start]
    tail = text[hit.end : hit.end + after]
    if hit.start > before:
        head = "…" + head.split(" ", 1)[-1]
    if hit.end + after < len(text):
        tail = tail.rsplit(" ", 1)[0] + "…"
    return " ".join(f"{head}[{text[hit.start : hit.end]}]{tail}".split())


def _show(message: EmailMessage) -> None:
    print("-" * WIDTH)
    for header in ("From", "To", "Subject", "Message-ID"):
        print(f"{header}: {message[header]}")
    body = message.get_body(("plain",))
    print()
    print(body.get_content() if body is not None else "(no text part)")
    print("-" * WIDTH)


def _save(directory: Path, arrived: list[Arrived]) -> int:
    print(f"\n== saved each email the SMTP server received to {directory}")
    try:
        for number, item in enumerate(arrived, 1):
            stem = directory / f"{number:02d}-{item.step}"
            eml = stem.with_suffix(".eml")
            eml.write_bytes(item.received.raw)
            print(f"   {eml}")
            html = item.received.message.get_body(("html",))
            if html is not None:
                page = stem.with_suffix(".html")
                # Exactly the part's text, its CRLF line ends included.
                page.write_text(html.get_content(), encoding="utf-8", newline="")
                print(f"   {page}")
    except OSError as exc:
        print(f"watcher: --save {directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
