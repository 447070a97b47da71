"""Digest email through the real pipeline (local API server, SQLite store, the SMTP channel to
the in-process aiosmtpd server): a correction threads under the alert that first reported its
item, every digest says how to unsubscribe, a user's ``<style>`` reaches the elements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pytest

from watcher import pipeline, sending, service, unsubscribe
from watcher.config import parse
from watcher.pipeline import Service
from watcher.testing.fakeapi import FakeParliamentAPI
from watcher.testing.smtp import SmtpTestServer

SINCE = date(2024, 1, 8)
KEY = "an-unsubscribe-signing-key-for-tests-only"
OLD = "a steering group has now been established"
NEW = "a cross-government steering group was established in 2023"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 15, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def make_service(
    tmp_path: Path,
    api: FakeParliamentAPI,
    smtp: SmtpTestServer,
    clock: Clock,
    extra: str = "",
) -> Service:
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
{extra}
sources:
  - id: wq
    kind: parliament_written_questions
    base_url: {api.base_url}
    retries: 0
    backoff: 1ms
    timeout: 2s
    max_per_second: 20
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {smtp.port}
    security: none
    from: "Parliament Watcher <alerts@example.org>"
    timeout: 5s
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - id: policy
    rules: [send-workforce]
    to: [policy@example.org]
""",
        str(tmp_path / "watcher.yaml"),
        {"WATCHER_SECRET_KEY": KEY},
    )
    return service.build(config, clock=clock)


def poll_and_send(svc: Service, clock: Clock) -> None:
    assert pipeline.poll(svc, "wq", since=SINCE).error is None
    clock.now += timedelta(minutes=1)
    reports = sending.send_due(svc)
    assert reports
    assert all(r.error is None for r in reports), reports


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def test_a_correction_is_threaded_under_the_alert_that_first_reported_it(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    clock = Clock()
    svc = make_service(tmp_path, api, smtp, clock)
    try:
        poll_and_send(svc, clock)
        [first] = smtp.messages
        assert first["In-Reply-To"] is None  # a first report starts its thread
        api.correct("8602", OLD, NEW, on=date(2024, 1, 22))
        clock.now += timedelta(days=7)
        poll_and_send(svc, clock)
    finally:
        service.close(svc)
    first, correction = smtp.messages
    text = correction.get_body(("plain",))
    assert text is not None
    assert NEW in text.get_content()
    assert correction["Message-ID"] != first["Message-ID"]
    assert correction["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in str(correction["References"]).split()


def test_every_digest_says_how_to_unsubscribe_in_one_click(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    clock = Clock()
    svc = make_service(
        tmp_path,
        api,
        smtp,
        clock,
        extra="public_url: https://watcher.example.org/parliament\n"
        "secret_key: ${WATCHER_SECRET_KEY}",
    )
    try:
        poll_and_send(svc, clock)
    finally:
        service.close(svc)
    [received] = smtp.received
    link = f"https://watcher.example.org/parliament/unsubscribe/{unsubscribe.token(KEY, 'policy')}"
    mailto = "mailto:alerts@example.org?subject=unsubscribe%20policy"
    # On the wire as written: a long URL turned into an encoded-word would be lost to clients.
    assert raw_header(received.raw, "List-Unsubscribe") == f"<{link}>, <{mailto}>"
    assert raw_header(received.raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert KEY.encode() not in received.raw


def raw_header(raw: bytes, name: str) -> str:
    """A header's value exactly as the bytes carry it, unfolded (no decoding)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    values = [
        line.split(":", 1)[1].strip()
        for line in unfolded.split("\r\n")
        if line.lower().startswith(f"{name.lower()}:")
    ]
    assert len(values) == 1, values
    return values[0]


def test_without_public_url_a_digest_names_the_mailbox_only(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    clock = Clock()
    svc = make_service(tmp_path, api, smtp, clock)
    try:
        poll_and_send(svc, clock)
    finally:
        service.close(svc)
    [message] = smtp.messages
    assert message["List-Unsubscribe"] == "<mailto:alerts@example.org?subject=unsubscribe%20policy>"
    assert message["List-Unsubscribe-Post"] is None


STYLED = """\
<!DOCTYPE html>
<html><head><style>
  h1 { color: #1d70b8; font-size: 22px; }
  .item { border-left: 4px solid #ffdd00; }
  @media (max-width: 600px) { h1 { font-size: 18px; } }
</style></head>
<body><h1>{{ subject }}</h1>
{% for item in items %}<div class="item"><p>{{ item.heading_html }}</p></div>{% endfor %}
</body></html>
"""


class _Styles(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.styles: dict[str, list[set[str]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = dict(attrs).get("style") or ""
        rules = {" ".join(r.split()) for r in style.replace(": ", ":").split(";") if r.strip()}
        self.styles.setdefault(tag, []).append(rules)


def test_a_users_style_block_is_inlined_onto_the_elements_it_styles(
    tmp_path: Path, api: FakeParliamentAPI, smtp: SmtpTestServer
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.html.j2").write_text(STYLED)
    clock = Clock()
    svc = make_service(tmp_path, api, smtp, clock, extra=f"templates: {templates}")
    try:
        poll_and_send(svc, clock)
    finally:
        service.close(svc)
    [message] = smtp.messages
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    found = _Styles()
    found.feed(content)
    assert found.styles["h1"] == [{"color:#1d70b8", "font-size:22px"}]
    assert found.styles["div"]
    assert all("border-left:4px solid #ffdd00" in s for s in found.styles["div"])
    assert "@media (max-width: 600px)" in content  # kept for the clients that read <style>
