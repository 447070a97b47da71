"""The feed source against a real local feed server (``watcher.testing.feeds``): golden records
for each dialect, conditional GET, updates in place, churn, the first poll, and hostile or
broken answers. Polls run through the pipeline with an SQLite store and a clock the test moves.

``WATCHER_UPDATE_GOLDEN=1`` rewrites the ``*.records.json`` files beside the feeds; review
``git diff tests/data/feeds/`` afterwards.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher import pipeline, service
from watcher.config import FeedSourceConfig, parse
from watcher.errors import ParseError
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE
from watcher.model import record_to_dict
from watcher.pipeline import Service
from watcher.sources.feed import FeedSource
from watcher.sources.feed_parse import parse_feed
from watcher.testing.cli import watcher
from watcher.testing.feeds import FeedServer

FEEDS = Path(__file__).parent / "data" / "feeds"
GOVUK = "govuk-finder.atom"
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
SEND_REVIEW = "tag:www.gov.uk,2005:/government/publications/send-workforce-review"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def document(name: str = GOVUK) -> bytes:
    return (FEEDS / name).read_bytes()


def feed_config(url: str, **extra: object) -> FeedSourceConfig:
    return FeedSourceConfig.model_validate(
        {"id": "dfe", "kind": "feed", "url": url, "retries": 0, "timeout": "2s", **extra}
    )


def make_service(
    tmp_path: Path, url: str, clock: Clock, timeout: str = "2s", allow_private: bool = True
) -> Service:
    config = parse(
        f"""
store: sqlite:///{tmp_path}/w.db
data_dir: {tmp_path}/data
allow_private_networks: {str(allow_private).lower()}  # the feed is a local server
sources:
  - id: dfe
    kind: feed
    url: {url}
    retries: 0
    timeout: {timeout}
rules:
  - id: everything
    query: 'workforce OR meals OR pay OR review OR changing'
subscriptions:
  - id: policy
    rules: [everything]
""",
        "test.yaml",
        {},
    )
    return service.build(config, clock=clock)


# --- golden records --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        (GOVUK, "application/atom+xml; charset=utf-8"),
        ("rss2.xml", "application/rss+xml"),
        ("rss1.rdf", "application/rdf+xml"),
    ],
)
def test_each_dialect_becomes_the_golden_records(name: str, content_type: str) -> None:
    with FeedServer(content_type) as server:
        server.publish("/feed", document(name))
        source = FeedSource(
            feed_config(server.url("/feed")),
            "tests",
            clock=lambda: NOW,
            allow_private_networks=True,
        )
        try:
            listing = source.list(NOW.date(), NOW.date())
        finally:
            source.close()
        here = server.base_url
    assert listing.error is None
    # Relative links resolve against where the feed came from: here, a port of the day.
    got = json.loads(
        json.dumps(
            [record_to_dict(e.record) for e in listing.entries if e.record is not None]
        ).replace(here, "http://feeds.test")
    )
    assert all(e.fingerprint == e.record.fingerprint for e in listing.entries if e.record)
    golden = FEEDS / f"{name}.records.json"
    if os.environ.get("WATCHER_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_govuk_feeds_carry_the_open_government_licence_unless_told_otherwise() -> None:
    gov = "https://www.gov.uk/search/all.atom?organisations%5B%5D=department-for-education"
    assert feed_config(gov).licence_line == OPEN_GOVERNMENT_LICENCE
    assert feed_config(gov, licence="").licence_line == ""
    assert feed_config("https://example.org/feed.rss").licence_line == ""
    with pytest.raises(ValueError, match="not an http"):
        feed_config("file:///etc/passwd")


# --- polling through the pipeline ------------------------------------------------------------


def test_first_poll_alerts_recent_entries_and_stores_older_ones_silently(
    tmp_path: Path, server: FeedServer
) -> None:
    server.publish("/dfe.atom", document())
    svc = make_service(tmp_path, server.url("/dfe.atom"), Clock(NOW))
    report = pipeline.poll(svc, "dfe")
    assert report.error is None
    assert report.listed == 4
    # 15 and 14 January are within the 3 days before the 15th; 9 January and December are not.
    assert report.events == 2
    old = "tag:www.gov.uk,2005:/guidance/teacher-pay-award-2023"
    stored = svc.store.current("dfe", [SEND_REVIEW, old])
    assert len(stored) == 2  # the old one is stored all the same
    service.close(svc)


def test_an_unchanged_feed_is_a_304_and_makes_no_events(tmp_path: Path, server: FeedServer) -> None:
    server.publish("/dfe.atom", document())
    clock = Clock(NOW)
    svc = make_service(tmp_path, server.url("/dfe.atom"), clock)
    pipeline.poll(svc, "dfe")
    clock.now += timedelta(minutes=15)
    again = pipeline.poll(svc, "dfe")
    assert server.answers == [("/dfe.atom", 200), ("/dfe.atom", 304)]
    assert (again.error, again.listed, again.events) == (None, 0, 0)
    service.close(svc)


def test_an_entry_changed_in_place_is_updated_but_a_moved_date_or_new_order_is_nothing(
    tmp_path: Path, server: FeedServer
) -> None:
    original = document().decode()
    server.publish("/dfe.atom", original.encode())
    clock = Clock(NOW)
    svc = make_service(tmp_path, server.url("/dfe.atom"), clock)
    pipeline.poll(svc, "dfe")

    clock.now += timedelta(minutes=15)
    moved = original.replace("2024-01-15T09:30:00+00:00", "2024-01-15T11:45:00+00:00")
    entries = re.findall(r"<entry>.*?</entry>", moved, re.S)
    first, second = entries[0], entries[1]
    reordered = moved.replace(first, "@").replace(second, first).replace("@", second)
    server.publish("/dfe.atom", reordered.encode())
    report = pipeline.poll(svc, "dfe")
    assert server.answers[-1] == ("/dfe.atom", 200)  # a new document, read
    assert (report.error, report.events) == (None, 0)

    clock.now += timedelta(minutes=15)
    server.publish("/dfe.atom", original.replace("call for evidence", "extended").encode())
    report = pipeline.poll(svc, "dfe")
    assert report.events == 1
    [record] = svc.store.current("dfe", [SEND_REVIEW]).values()
    assert record.title == "SEND workforce review: extended"
    service.close(svc)


def churning(stamp: int) -> bytes:
    """The GOV.UK feed with a summary that says when it was generated."""
    return (
        document()
        .decode()
        .replace("keeping the SEND workforce.", f"keeping the SEND workforce. Generated {stamp}.")
        .encode()
    )


def test_an_entry_that_changes_on_every_fetch_alerts_twice_then_waits_until_stable(
    tmp_path: Path, server: FeedServer
) -> None:
    clock = Clock(NOW)
    server.publish("/dfe.atom", churning(0))
    svc = make_service(tmp_path, server.url("/dfe.atom"), clock)
    assert pipeline.poll(svc, "dfe").events == 2  # the first poll: published

    updates = []
    for n in range(1, 25):  # a day of hourly polls, each seeing a new stamp
        clock.now += timedelta(hours=1)
        server.publish("/dfe.atom", churning(n))
        report = pipeline.poll(svc, "dfe")
        assert report.error is None
        updates.append(report.events)
    assert sum(updates) == 2
    assert updates[:2] == [1, 1]  # the first two changes are news; the rest is churn
    [record] = svc.store.current("dfe", [SEND_REVIEW]).values()
    assert "Generated 24." in record.texts["summary"].plain  # kept, silently

    # Quiet for 23 hours is not yet a day: a change is still churn.
    clock.now += timedelta(hours=23)
    assert pipeline.poll(svc, "dfe").events == 0  # 304
    server.publish("/dfe.atom", churning(25))
    assert pipeline.poll(svc, "dfe").events == 0

    # A day without change: the entry is heard again.
    clock.now += timedelta(hours=24, minutes=1)
    assert pipeline.poll(svc, "dfe").events == 0
    server.publish("/dfe.atom", churning(26))
    assert pipeline.poll(svc, "dfe").events == 1
    service.close(svc)


def test_a_feed_on_a_private_address_is_refused_unless_the_config_allows_it(
    tmp_path: Path, server: FeedServer
) -> None:
    server.publish("/dfe.atom", document())
    svc = make_service(tmp_path, server.url("/dfe.atom"), Clock(NOW), allow_private=False)
    report = pipeline.poll(svc, "dfe")
    service.close(svc)
    assert report.error is not None
    assert "refused to connect to 127.0.0.1:" in report.error
    assert "a loopback address (set allow_private_networks: true to allow)" in report.error
    assert server.answers == []  # every other test here polls the same server, allowed


def test_a_malformed_feed_is_an_error_on_the_source_and_loses_nothing(
    tmp_path: Path, server: FeedServer
) -> None:
    clock = Clock(NOW)
    server.publish("/dfe.atom", document())
    svc = make_service(tmp_path, server.url("/dfe.atom"), clock)
    pipeline.poll(svc, "dfe")
    cursor = svc.store.source_state("dfe").cursor

    clock.now += timedelta(minutes=15)
    server.publish("/dfe.atom", b"<html><body>Service unavailable</body></html>")
    report = pipeline.poll(svc, "dfe")
    assert report.error is not None
    assert "feed" in report.error
    state = svc.store.source_state("dfe")
    assert state.last_error is not None
    assert state.error_count == 1
    assert state.cursor == cursor  # validators and memory as the last good poll left them
    assert len(svc.store.current("dfe", [SEND_REVIEW])) == 1

    # Mended, the same feed makes no events: nothing was forgotten, nothing is new.
    clock.now += timedelta(minutes=15)
    server.publish("/dfe.atom", document())
    report = pipeline.poll(svc, "dfe")
    assert (report.error, report.events) == (None, 0)
    assert svc.store.source_state("dfe").error_count == 0
    service.close(svc)


def test_a_feed_not_quite_well_formed_is_still_read() -> None:
    broken = document().decode().replace("</feed>", "")  # truncated: bozo, entries parsed
    parsed = parse_feed(broken.encode(), "dfe", "https://www.gov.uk/x.atom")
    assert parsed.problem is not None
    assert len(parsed.records) == 4
    with pytest.raises(ParseError):
        parse_feed(b"\x00\x01 not xml at all", "dfe", "https://www.gov.uk/x.atom")


def test_an_oversized_feed_is_refused_whole(tmp_path: Path, server: FeedServer) -> None:
    head, tail = document().split(b"</feed>")
    padding = b"<!-- " + b"x" * (10 * 1024 * 1024) + b" -->"
    server.publish("/dfe.atom", head + padding + b"</feed>" + tail)
    svc = make_service(tmp_path, server.url("/dfe.atom"), Clock(NOW))
    report = pipeline.poll(svc, "dfe")
    assert report.error is not None
    assert "larger than the 10 MB limit" in report.error
    assert report.listed == 0
    service.close(svc)


def test_a_trickled_feed_stops_at_the_deadline(tmp_path: Path, server: FeedServer) -> None:
    # 5 KB, 64 bytes every 0.2 s: about 16 s to arrive, against a 1 s deadline.
    server.trickle("/dfe.atom", document(), pause=0.2)
    svc = make_service(tmp_path, server.url("/dfe.atom"), Clock(NOW), timeout="1s")
    started = time.monotonic()
    report = pipeline.poll(svc, "dfe")
    assert time.monotonic() - started < 10  # never waits for the whole trickle
    assert report.error is not None
    assert "deadline" in report.error
    service.close(svc)


def test_entities_neither_expand_exponentially_nor_fetch_anything(server: FeedServer) -> None:
    server.publish("/secret", b"SECRET")
    lols = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY lol0 "lol">
  {lols}
  <!ENTITY remote SYSTEM "{server.url("/secret")}">
  <!ENTITY local SYSTEM "file:///etc/hostname">
]>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Hostile</title>
  <entry>
    <id>tag:example.org,2024:1</id>
    <title>Laughs &lol9; &remote; &local;</title>
    <updated>2024-01-15T09:30:00Z</updated>
    <summary>Boom &lol9;</summary>
  </entry>
</feed>""".encode()
    started = time.monotonic()
    try:
        parsed = parse_feed(hostile, "x", "https://example.org/feed")
    except ParseError:
        parsed = None  # refusing the document is as good as reading it safely
    assert time.monotonic() - started < 10
    assert [path for path, _ in server.requests] == []
    if parsed is not None:
        for record in parsed.records:
            said = record.title + "".join(t.plain for t in record.texts.values())
            assert len(said) < 1000
            assert "SECRET" not in said


# --- end to end ------------------------------------------------------------------------------


def test_run_once_delivers_a_feeds_new_entries_to_the_outbox_and_then_nothing(
    tmp_path: Path, server: FeedServer
) -> None:
    today = datetime.now(UTC).replace(microsecond=0).isoformat()
    server.publish(
        "/dfe.atom", document().decode().replace("2024-01-15T09:30:00+00:00", today).encode()
    )
    config = tmp_path / "watcher.yaml"
    config.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
allow_private_networks: true  # the feed is a local server
sources:
  - id: dfe
    kind: feed
    url: {server.url("/dfe.atom")}
    retries: 0
    timeout: 5s
rules:
  - id: send
    query: '"SEND workforce"'
subscriptions:
  - rules: [send]
    digest: immediate
""")
    first = watcher(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "data" / "outbox"
    [sent] = list(outbox.glob("*.eml"))
    assert "SEND workforce review" in sent.read_text(encoding="utf-8")

    again = watcher(config, "run", "--once")
    assert again.returncode == 0, again.stderr
    assert list(outbox.glob("*.eml")) == [sent]
    assert server.answers[-1] == ("/dfe.atom", 304)
