"""PoliteClient against real local servers (FakeParliamentAPI, a scripted one) and MockTransport."""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from watcher.errors import DeadlineError, FetchError, ParseError, TooLargeError
from watcher.http import PoliteClient, Validators
from watcher.testing import FakeParliamentAPI
from watcher.testing.scripted import Exchange, ScriptedServer, chunked, reply

DETAIL = "/api/writtenquestions/questions/1"
QUESTION = {"id": 1, "heading": "Schools", "dateTabled": "2024-01-08T00:00:00", "uin": "1"}


def make_client(base_url: str | None, **overrides: Any) -> PoliteClient:
    settings: dict[str, Any] = {
        "user_agent": "watcher-tests/1 (+mailto:tests@example.org)",
        "timeout": 2.0,
        "max_concurrency": 2,
        "max_per_second": 50.0,
        "retries": 2,
        "backoff": 0.01,
        "max_retry_after": 5.0,
    }
    settings.update(overrides)
    return PoliteClient(base_url, **settings)


@pytest.fixture
def api() -> Iterator[FakeParliamentAPI]:
    with FakeParliamentAPI([QUESTION]) as server:
        yield server


@pytest.fixture
def client(api: FakeParliamentAPI) -> Iterator[PoliteClient]:
    c = make_client(api.base_url)
    yield c
    c.close()


def test_every_request_carries_the_user_agent_and_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    client = make_client("https://api.example", transport=httpx.MockTransport(handler))
    try:
        assert client.get_json("/x", {"take": 5, "expandMember": True}) == {"ok": True}
    finally:
        client.close()
    assert seen[0].headers["User-Agent"] == "watcher-tests/1 (+mailto:tests@example.org)"
    assert seen[0].url.params["take"] == "5"
    assert seen[0].url.params["expandMember"] == "true"


def test_a_server_error_is_retried_then_succeeds(
    api: FakeParliamentAPI, client: PoliteClient
) -> None:
    api.fail(1, status=500)
    body = client.get_json(DETAIL)
    assert body["value"]["id"] == 1
    assert len(api.requests) == 2


def test_retry_after_seconds_is_honoured(api: FakeParliamentAPI, client: PoliteClient) -> None:
    api.fail(1, status=429, retry_after=1)
    started = time.monotonic()
    body = client.get_json(DETAIL)
    elapsed = time.monotonic() - started
    assert body["value"]["id"] == 1
    assert elapsed >= 0.95
    assert elapsed < 3


def test_retry_after_beyond_the_limit_gives_up_at_once(
    api: FakeParliamentAPI, client: PoliteClient
) -> None:
    api.fail(1, status=429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(FetchError, match="429") as info:
        client.get_json(DETAIL)
    assert time.monotonic() - started < 2
    assert "3600" in str(info.value)
    assert len(api.requests) == 1


def test_retry_after_as_an_http_date_is_understood(
    api: FakeParliamentAPI, client: PoliteClient
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    api.fail(1, status=503, retry_after=later)
    with pytest.raises(FetchError, match=r"retry after 3[56]\d\ds"):
        client.get_json(DETAIL)
    assert len(api.requests) == 1


def test_persistent_failure_names_status_path_and_attempts(
    api: FakeParliamentAPI, client: PoliteClient
) -> None:
    api.fail(10, status=503)
    with pytest.raises(FetchError) as info:
        client.get_json(DETAIL)
    message = str(info.value)
    assert "503" in message
    assert DETAIL in message
    assert "3 attempts" in message
    assert len(api.requests) == 3


def test_client_errors_are_not_retried(api: FakeParliamentAPI, client: PoliteClient) -> None:
    with pytest.raises(FetchError, match="404"):
        client.get_json("/api/writtenquestions/questions/999")
    assert len(api.requests) == 1


def test_a_body_that_is_not_json_is_a_parse_error(
    api: FakeParliamentAPI, client: PoliteClient
) -> None:
    api.garbage(1)
    with pytest.raises(ParseError, match="not JSON"):
        client.get_json(DETAIL)


def test_a_hung_server_times_out(api: FakeParliamentAPI) -> None:
    api.hang(1, seconds=5)
    client = make_client(api.base_url, timeout=0.2, retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="timed out"):
            client.get_json(DETAIL)
    finally:
        client.close()
    assert time.monotonic() - started < 3


def test_a_timeout_is_retried(api: FakeParliamentAPI) -> None:
    api.hang(1, seconds=3)
    client = make_client(api.base_url, timeout=0.2, retries=1)
    try:
        assert client.get_json(DETAIL)["value"]["id"] == 1
    finally:
        client.close()
    assert len(api.requests) == 2


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", retries=1)
    try:
        with pytest.raises(FetchError, match="2 attempts: transport error"):
            client.get_json(DETAIL)
    finally:
        client.close()


def test_concurrency_is_bounded_across_threads(api: FakeParliamentAPI) -> None:
    api.hang(8, seconds=0.15)
    client = make_client(api.base_url, max_concurrency=2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_json(DETAIL)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        client.close()
    assert errors == []
    assert len(api.requests) == 8
    assert api.max_in_flight == 2


def test_requests_per_second_are_bounded(api: FakeParliamentAPI) -> None:
    client = make_client(api.base_url, max_per_second=10.0, max_concurrency=4)
    started = time.monotonic()
    threads = [threading.Thread(target=client.get_json, args=(DETAIL,)) for _ in range(5)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        client.close()
    # Five starts spaced 0.1 s apart: the last cannot begin before 0.4 s.
    assert time.monotonic() - started >= 0.39
    assert len(api.requests) == 5


# --- bytes, absolute URLs, conditional GET, limits: against a scripted local server ----------

ETAG = '"v7"'
LAST_MODIFIED = "Mon, 08 Jan 2024 09:30:00 GMT"
FEED = b"<?xml version='1.0'?><rss><channel><title>News</title></channel></rss>"


def feed(exchange: Exchange) -> None:
    """A feed that answers 304 to either validator, the way real servers do."""
    if exchange.headers.get("If-None-Match") == ETAG:
        reply(exchange, 304, headers={"ETag": ETAG})
    elif exchange.headers.get("If-Modified-Since") == LAST_MODIFIED:
        reply(exchange, 304)  # many servers repeat no validator on a 304
    else:
        headers = {
            "Content-Type": "application/rss+xml",
            "ETag": ETAG,
            "Last-Modified": LAST_MODIFIED,
        }
        reply(exchange, 200, FEED, headers)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer({"/feed": feed}) as s:
        yield s


@pytest.fixture
def feeds() -> Iterator[PoliteClient]:
    """A client with no base URL, as a feed source has, and a tight total deadline."""
    c = make_client(None, deadline=1.0)
    yield c
    c.close()


@pytest.mark.parametrize("base_url", [None, ""])
def test_an_absolute_url_needs_no_base_and_keeps_its_own_query(
    server: ScriptedServer, base_url: str | None
) -> None:
    client = make_client(base_url)
    try:
        response = client.get(server.url("/feed?key=abc"), {"page": 2})
    finally:
        client.close()
    assert response.status == 200
    assert response.content == FEED
    assert response.content_type == "application/rss+xml"
    assert response.validators == Validators(ETAG, LAST_MODIFIED)
    assert not response.not_modified
    assert server.requests[0][0] == "/feed?key=abc&page=2"


def test_redirects_are_followed_and_the_final_url_reported(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    server.routes["/old"] = lambda ex: reply(ex, 301, headers={"Location": "/feed"})
    response = feeds.get(server.url("/old"))
    assert response.content == FEED
    assert response.url == server.url("/feed")


def test_an_unchanged_feed_answers_304_to_its_etag(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    first = feeds.get(server.url("/feed"))
    again = feeds.get(server.url("/feed"), validators=Validators(etag=first.etag))
    assert again.not_modified
    assert again.content == b""
    assert again.validators.etag == ETAG
    assert server.requests[1][1]["if-none-match"] == ETAG
    assert len(server.requests) == 2  # a 304 is an answer, not a failure to retry


def test_a_304_to_if_modified_since_keeps_the_validators_sent(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    sent = Validators(last_modified=LAST_MODIFIED)
    response = feeds.get(server.url("/feed"), validators=sent)
    assert response.not_modified
    assert response.validators == sent
    assert server.requests[0][1]["if-modified-since"] == LAST_MODIFIED
    assert "if-none-match" not in server.requests[0][1]


def test_a_declared_length_over_the_limit_fails_before_reading(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    def huge(exchange: Exchange) -> None:
        # Declares a gigabyte and sends none of it: a client that started reading would wait
        # for the read timeout and fail with "timed out" instead.
        exchange.send_response(200)
        exchange.send_header("Content-Length", str(1024**3))
        exchange.end_headers()
        exchange.wfile.flush()
        server.stopping.wait(10)

    server.routes["/huge"] = huge
    with pytest.raises(TooLargeError, match=r"larger than the 1 MB limit \(Content-Length") as info:
        feeds.get(server.url("/huge"), max_bytes=1024 * 1024)
    assert info.value.limit == 1024 * 1024
    assert len(server.requests) == 1


def test_an_endless_chunked_body_is_cut_off_at_the_limit(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    server.routes["/endless"] = lambda ex: chunked(
        ex, itertools.repeat(b"x" * 65536), server.stopping
    )
    with pytest.raises(TooLargeError, match=r"larger than the 10 MB limit \(stopped reading\)"):
        feeds.get(server.url("/endless"))
    assert len(server.requests) == 1  # the same body again would be just as large


def test_the_limit_is_on_the_decoded_body_not_the_compressed_one(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    bomb = gzip.compress(b"\0" * (4 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    server.routes["/bomb"] = lambda ex: reply(ex, 200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(TooLargeError, match="1 MB limit"):
        feeds.get(server.url("/bomb"), max_bytes=1024 * 1024)
    assert len(feeds.get(server.url("/bomb"), max_bytes=8 * 1024 * 1024).content) == 4 * 1024**2


def test_a_limit_set_on_the_client_applies_to_every_call(server: ScriptedServer) -> None:
    client = make_client(None, max_bytes=len(FEED) - 1)
    try:
        with pytest.raises(TooLargeError, match=f"{len(FEED) - 1} bytes limit"):
            client.get(server.url("/feed"))
        assert client.get(server.url("/feed"), max_bytes=len(FEED)).content == FEED
    finally:
        client.close()


def test_a_body_that_trickles_forever_is_cut_off_by_the_deadline(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    # One byte every 0.1 s: every read succeeds, so only a deadline on the whole answer ends it.
    server.routes["/trickle"] = lambda ex: chunked(
        ex, itertools.repeat(b"."), server.stopping, pause=0.1
    )
    started = time.monotonic()
    with pytest.raises(DeadlineError, match=r"took longer than the 1s deadline") as info:
        feeds.get(server.url("/trickle"))
    assert time.monotonic() - started < 15  # it hung forever before; not a timing benchmark
    assert info.value.limit == 1.0
    assert len(server.requests) == 1


def test_a_compressed_trickle_that_decodes_to_nothing_is_cut_off_too(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    def nothing_forever() -> Iterator[bytes]:
        yield gzip.compress(b"")[:10]  # the gzip header
        # Then empty, non-final stored deflate blocks: bytes on the wire, none decoded.
        yield from itertools.repeat(b"\x00\x00\x00\xff\xff")

    server.routes["/gz-trickle"] = lambda ex: chunked(
        ex, nothing_forever(), server.stopping, pause=0.1, headers={"Content-Encoding": "gzip"}
    )
    started = time.monotonic()
    with pytest.raises(DeadlineError):
        feeds.get(server.url("/gz-trickle"))
    assert time.monotonic() - started < 15


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (NESTED, "nested too deeply"),
        (b"", "empty"),
        (b"  \r\n", "empty"),
        ('{"title": "Café"}'.encode("latin-1"), r"not UTF-8 \(byte 0xe9 at 14\)"),
        (b"<html>busy</html>", "not JSON"),
        (b"1" * 5000, "not JSON"),  # an integer too long for int(): a ValueError of its own
    ],
)
def test_json_that_cannot_be_decoded_is_a_parse_error(
    server: ScriptedServer, feeds: PoliteClient, body: bytes, problem: str
) -> None:
    server.routes["/api"] = lambda ex: reply(ex, 200, body, {"Content-Type": "application/json"})
    with pytest.raises(ParseError, match=problem):
        feeds.get_json(server.url("/api"))
    with pytest.raises(ParseError, match=problem):
        feeds.get(server.url("/api")).json()


def test_json_with_a_byte_order_mark_is_read(server: ScriptedServer, feeds: PoliteClient) -> None:
    body = b"\xef\xbb\xbf" + json.dumps({"title": "Café"}).encode()
    server.routes["/api"] = lambda ex: reply(ex, 200, body, {"Content-Type": "application/json"})
    assert feeds.get_json(server.url("/api")) == {"title": "Café"}
    assert server.requests[0][1]["accept"] == "application/json"


def test_errors_name_the_url_without_its_query_or_credentials(
    server: ScriptedServer, feeds: PoliteClient
) -> None:
    url = server.url("/private?key=s3cret").replace("http://", "http://user:pa55@")
    with pytest.raises(FetchError, match="404") as info:
        feeds.get(url)
    assert server.url("/private") in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "pa55" not in str(info.value)


def test_a_relative_path_without_a_base_url_fails_at_once(feeds: PoliteClient) -> None:
    with pytest.raises(FetchError, match="not a URL we can ask"):
        feeds.get("/feed")
