"""PoliteClient against real local servers (FakeParliamentAPI, a scripted one) and MockTransport."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from watcher.errors import FetchError, ParseError
from watcher.http import PoliteClient
from watcher.testing import FakeParliamentAPI

DETAIL = "/api/writtenquestions/questions/1"
QUESTION = {"id": 1, "heading": "Schools", "dateTabled": "2024-01-08T00:00:00", "uin": "1"}


def make_client(base_url: str, **overrides: Any) -> PoliteClient:
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
