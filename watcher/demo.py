"""``watcher demo``: the whole flow offline, for anyone evaluating the project.

Starts a local copy of the Written Questions API serving recorded responses, a local SMTP
server, and a real service on a temporary SQLite store; polls, sends, shows the email that
arrived; then publishes a correction of the answer and shows the "corrected" email.
"""

from __future__ import annotations

import tempfile
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from watcher import pipeline, service
from watcher.config import load
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.smtp import SmtpTestServer

SINCE = date(2024, 1, 8)

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


def run_demo() -> int:
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
            _step(svc, f"poll answers since {SINCE} and send what matched", smtp)
            _step(svc, "poll again: nothing new, so nothing is sent", smtp)

            api.correct(
                "8602",
                "a steering group has now been established",
                "a steering group was established in 2023",
                on=date(2024, 1, 22),
            )
            _step(svc, "the department corrects its answer (a demo edit): poll and send", smtp)
        finally:
            service.close(svc)
    return 0


def _step(svc: pipeline.Service, title: str, smtp: SmtpTestServer) -> None:
    print(f"\n== {title}")
    before = len(smtp.messages)
    for source_id in svc.sources:
        report = pipeline.poll(svc, source_id, since=SINCE)
        print(
            f"   poll {source_id}: {report.listed} listed, {report.fetched} fetched in full, "
            f"{report.events} new events"
        )
    pipeline.send_due(svc)
    new = smtp.messages[before:]
    print(f"   emails received by the SMTP server: {len(new)}")
    for message in new:
        _show(message)


def _show(message: EmailMessage) -> None:
    print("-" * 78)
    for header in ("From", "To", "Subject", "Message-ID"):
        print(f"{header}: {message[header]}")
    body = message.get_body(("plain",))
    print()
    print(body.get_content() if body is not None else "(no text part)")
    print("-" * 78)
