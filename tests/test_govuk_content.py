"""``fetch_content``: a GOV.UK feed entry's page body read from the Content API, so rules see
more than the feed's one-line summary. A local server plays both the feed and the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher import pipeline, service
from watcher.config import parse
from watcher.errors import ParseError
from watcher.pipeline import Service
from watcher.sources.govuk import body_text, content_url
from watcher.testing.feeds import FeedServer
from watcher.testing.scripted import Exchange, reply

FEED = Path(__file__).parent / "data" / "feeds" / "govuk-finder.atom"
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
SEND_REVIEW = "tag:www.gov.uk,2005:/government/publications/send-workforce-review"
REVIEW_PAGE = "/api/content/government/publications/send-workforce-review"
MEALS_PAGE = "/api/content/government/news/free-school-meals-auto-enrolment"
BODY = (
    "<p>The call for evidence asks how local areas plan for educational psychologists.</p>"
    "<p>Responses close on 1 March.</p>"
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def content(body: str) -> bytes:
    return json.dumps({"title": "x", "details": {"body": body}}).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        s.publish("/dfe.atom", FEED.read_bytes())
        yield s


def serve(server: FeedServer, path: str, status: int, body: bytes = b"") -> None:
    def route(exchange: Exchange) -> None:
        reply(exchange, status, body, {"Content-Type": "application/json"})

    server.routes[path] = route


def build(tmp_path: Path, server: FeedServer, clock: Clock) -> Service:
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
allow_private_networks: true  # the feed is a local server
sources:
  - id: dfe
    kind: feed
    url: {server.url("/dfe.atom")}
    fetch_content: true
    content_api: {server.url("/api/content")}
    retries: 0
    timeout: 2s
rules:
  - id: psychologists
    query: '"educational psychologists"'
subscriptions:
  - id: policy
    rules: [psychologists]
""",
        "test.yaml",
        {},
    )
    return service.build(config, clock=clock)


def asked(server: FeedServer) -> list[str]:
    return [path for path, _ in server.requests if path.startswith("/api/content")]


def test_a_new_entrys_page_body_is_its_content_and_rules_match_it(
    tmp_path: Path, server: FeedServer
) -> None:
    serve(server, REVIEW_PAGE, 200, content(BODY))
    serve(server, MEALS_PAGE, 200, content("<p>Auto-enrolment starts in April.</p>"))
    clock = Clock(NOW)
    svc = build(tmp_path, server, clock)
    report = pipeline.poll(svc, "dfe")
    assert report.error is None
    # The two entries the first poll announces are read; the two older ones are stored as
    # the feed has them.
    assert sorted(asked(server)) == sorted([REVIEW_PAGE, MEALS_PAGE])
    stored = svc.store.current("dfe", [SEND_REVIEW])[SEND_REVIEW]
    found = stored.text("content")
    assert found is not None
    assert "educational psychologists" in found.plain
    pending = svc.store.pending("policy", before=NOW + timedelta(seconds=1))
    assert [p.event.record.key for p in pending] == [SEND_REVIEW]

    server.requests.clear()
    clock.now += timedelta(minutes=15)
    assert pipeline.poll(svc, "dfe").events == 0
    assert asked(server) == []  # a 304: nothing new, no page read
    service.close(svc)


def test_a_page_that_cannot_be_read_holds_its_entry_back_until_it_can(
    tmp_path: Path, server: FeedServer
) -> None:
    serve(server, REVIEW_PAGE, 500)
    serve(server, MEALS_PAGE, 200, content("<p>Auto-enrolment starts in April.</p>"))
    clock = Clock(NOW)
    svc = build(tmp_path, server, clock)
    first = pipeline.poll(svc, "dfe")
    assert first.error is not None
    assert "HTTP 500" in first.error
    assert svc.store.current("dfe", [SEND_REVIEW]) == {}  # neither stored nor announced

    serve(server, REVIEW_PAGE, 200, content(BODY))
    server.publish("/dfe.atom", FEED.read_bytes(), validators=False)  # no 304 this time
    clock.now += timedelta(minutes=15)
    again = pipeline.poll(svc, "dfe")
    assert again.error is None
    stored = svc.store.current("dfe", [SEND_REVIEW])[SEND_REVIEW]
    assert stored.text("content") is not None
    pending = svc.store.pending("policy", before=clock.now + timedelta(seconds=1))
    assert [p.event.record.key for p in pending] == [SEND_REVIEW]
    service.close(svc)


def test_what_the_content_api_answers_becomes_text() -> None:
    page = "https://www.gov.uk/government/publications/send-workforce-review"
    assert content_url("https://www.gov.uk/api/content/", page) == (
        "https://www.gov.uk/api/content/government/publications/send-workforce-review"
    )
    found = body_text({"details": {"body": BODY}}, page)
    assert found is not None
    assert found.plain.startswith("The call for evidence")
    documents = {"details": {"documents": ["<p>Attachment one</p>", "<p>Two</p>"]}}
    assert body_text(documents, page) is not None
    assert body_text({"details": {}}, page) is None
    with pytest.raises(ParseError):
        body_text(["not", "an", "object"], page)
