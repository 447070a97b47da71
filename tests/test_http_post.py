"""ChannelClient, the client channels post with, against real local servers: what it sends and
returns, what it refuses to do (retry, follow redirects), how each failure becomes a
DeliveryError, and that a webhook URL's secret parts reach no log line and no message."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from http_peers import PostServer, certificate

from watcher.errors import DeliveryError
from watcher.http import ChannelClient
from watcher.testing.scripted import Exchange, reply

SECRET_PATH = "/services/T000/B000/SECRETSECRET?sig=abc"
SECRETS = ("SECRETSECRET", "sig=abc")


@pytest.fixture
def server() -> Iterator[PostServer]:
    with PostServer() as s:
        yield s


@pytest.fixture
def client() -> Iterator[ChannelClient]:
    with ChannelClient("watcher-tests/1", allow_private_networks=True, timeout=2) as c:
        yield c


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record any logger makes, at DEBUG, as the service's root handler would see it,
    httpx's and httpcore's included (the service quiets them; here they may speak)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root, handler = logging.getLogger(), Keep(logging.DEBUG)
    chatty = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [root.level, *(logger.level for logger in chatty)]
    root.addHandler(handler)
    for logger in [root, *chatty]:
        logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        for logger, level in zip([root, *chatty], levels, strict=True):
            logger.setLevel(level)


def leaked(records: list[logging.LogRecord], *texts: str) -> list[str]:
    lines = [f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.exc_info or ''}" for r in records]
    return [line for line in lines for secret in SECRETS + texts if secret in line]


# --- what it sends and returns ---------------------------------------------------------------


def test_a_post_sends_the_body_and_headers_once_and_returns_the_answer(
    server: PostServer, client: ChannelClient
) -> None:
    server.answer = lambda e: reply(e, 201, b"created", {"Content-Type": "text/plain", "X-Id": "7"})
    answer = client.post(
        server.url("/hook?x=1"), b'{"text": "hi"}', {"Content-Type": "application/json"}
    )
    assert (answer.status, answer.text, answer.truncated) == (201, "created", False)
    assert answer.ok
    assert answer.headers["x-id"] == "7"
    [(path, headers, body)] = server.received
    assert (path, body) == ("/hook?x=1", b'{"text": "hi"}')
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "watcher-tests/1"


def test_an_error_status_is_returned_for_the_channel_to_judge_and_not_retried(
    server: PostServer, client: ChannelClient
) -> None:
    server.answer = lambda e: reply(e, 429, b'{"retry_after": 2.5}', {"Retry-After": "3"})
    answer = client.post(server.url("/hook"), b"{}")
    assert (answer.status, answer.ok, answer.retry_after) == (429, False, 3.0)
    assert answer.text == '{"retry_after": 2.5}'
    server.answer = lambda e: reply(e, 500, b"oops")
    assert client.post(server.url("/hook"), b"{}").status == 500
    assert len(server.received) == 2


def test_a_redirect_is_returned_not_followed(server: PostServer, client: ChannelClient) -> None:
    server.answer = lambda e: reply(e, 301, headers={"Location": server.url("/elsewhere")})
    answer = client.post(server.url("/hook"), b"{}")
    assert answer.status == 301
    assert answer.headers["location"].endswith("/elsewhere")
    assert [path for path, _, _ in server.received] == ["/hook"]


def test_a_long_answer_is_cut_at_the_limit(server: PostServer) -> None:
    server.answer = lambda e: reply(e, 400, "é".encode() * 100_000)
    with ChannelClient("tests", allow_private_networks=True, max_text=1001) as client:
        answer = client.post(server.url("/hook"), b"{}")
    assert answer.status == 400
    assert answer.truncated
    assert answer.text == "é" * 500 + "\N{REPLACEMENT CHARACTER}"  # 1001 bytes, cut mid-letter


def test_an_answer_whose_body_stops_arriving_is_still_its_status(server: PostServer) -> None:
    def half(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("Content-Length", "100")
        exchange.end_headers()
        exchange.wfile.write(b"ok")
        exchange.wfile.flush()
        server.stopping.wait(3)

    server.answer = half
    with ChannelClient("tests", allow_private_networks=True, timeout=0.3) as client:
        answer = client.post(server.url("/hook"), b"{}")
    assert (answer.status, answer.text, answer.truncated) == (200, "ok", True)


def test_a_mock_transport_stands_in_for_the_network() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with ChannelClient("tests", transport=httpx.MockTransport(handler)) as client:
        assert client.post("https://hooks.example/x", b"body").status == 204
    assert seen[0].content == b"body"


# --- failures ------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_a_temporary_failure_naming_the_url_masked(
    client: ChannelClient, records: list[logging.LogRecord]
) -> None:
    port = closed_port()
    with pytest.raises(DeliveryError) as failed:
        client.post(f"http://127.0.0.1:{port}{SECRET_PATH}", b"{}")
    assert not failed.value.permanent
    message = str(failed.value)
    assert message.startswith(f"POST http://127.0.0.1:{port}/…: connection failed (ConnectError")
    assert not any(secret in message for secret in SECRETS)
    assert leaked(records) == []


def test_no_answer_in_time_is_a_temporary_failure(
    server: PostServer, records: list[logging.LogRecord]
) -> None:
    server.answer = lambda e: server.stopping.wait(5) and None
    with (
        ChannelClient("tests", allow_private_networks=True, timeout=0.3) as client,
        pytest.raises(DeliveryError) as failed,
    ):
        client.post(server.url(SECRET_PATH), b"{}")
    assert not failed.value.permanent
    assert str(failed.value) == f"POST http://127.0.0.1:{server.port}/…: timed out (ReadTimeout)"
    assert leaked(records) == []


def test_headers_trickled_past_the_deadline_are_cut_off_at_the_deadline(
    server: PostServer,
) -> None:
    """Each byte comes well within the timeout; the whole answer would take 20 s."""

    def trickle(exchange: Exchange) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 100:
            if server.stopping.wait(0.2):
                return
            exchange.wfile.write(bytes([byte]))
            exchange.wfile.flush()

    server.answer = trickle
    with (
        ChannelClient("tests", allow_private_networks=True, timeout=2, deadline=0.8) as client,
        pytest.raises(DeliveryError) as failed,
    ):
        client.post(server.url("/hook"), b"{}")
    assert str(failed.value).endswith("/…: no answer within the 0.8s deadline")
    assert not failed.value.permanent


def test_tls_failures_are_temporary_and_show_the_url_masked(
    tmp_path: Path, server: PostServer, records: list[logging.LogRecord]
) -> None:
    plain = server.url(SECRET_PATH).replace("http://", "https://")
    with ChannelClient("tests", allow_private_networks=True) as client:
        with pytest.raises(DeliveryError) as not_tls:
            client.post(plain, b"{}")  # an HTTP server answering a TLS handshake
        with (
            PostServer(certificate=certificate(tmp_path, "127.0.0.1")) as tls,
            pytest.raises(DeliveryError) as untrusted,
        ):
            client.post(tls.url(SECRET_PATH), b"{}")
    assert str(not_tls.value).startswith(f"POST https://127.0.0.1:{server.port}/…: TLS failed (")
    assert "TLS failed (certificate verify failed: self-signed certificate)" in str(untrusted.value)
    for failure in (not_tls.value, untrusted.value):
        assert not failure.permanent
        assert not any(secret in str(failure) for secret in SECRETS)
    assert leaked(records) == []


@pytest.mark.parametrize(
    "url", ["ftp://files.example/x", "hooks.example/no-scheme", "http://", "http://[::1/x"]
)
def test_a_url_that_cannot_be_posted_to_is_a_permanent_failure(
    client: ChannelClient, url: str
) -> None:
    with pytest.raises(DeliveryError, match="not a URL we can post to") as failed:
        client.post(url, b"{}")
    assert failed.value.permanent


def test_a_bearer_token_in_a_header_is_scrubbed_from_the_message() -> None:
    def fails(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value {request.headers['Authorization']}")

    with (
        ChannelClient("tests", transport=httpx.MockTransport(fails)) as client,
        pytest.raises(DeliveryError) as failed,
    ):
        client.post("https://hooks.example/x", b"", {"Authorization": "Bearer TOKEN12345"})
    assert "TOKEN12345" not in str(failed.value)
    assert str(failed.value).startswith("POST https://hooks.example:443/…: transport error (")


# --- secrets stay out of the logs ------------------------------------------------------------


def test_posting_to_a_secret_url_logs_nothing_of_its_path_or_query_at_any_level(
    server: PostServer, client: ChannelClient, records: list[logging.LogRecord]
) -> None:
    answer = client.post(server.url(SECRET_PATH), b"{}")
    assert answer.status == 200
    assert server.received[0][0] == SECRET_PATH  # the secret went where it belongs
    assert any(r.name.startswith("httpcore") for r in records)  # the capture does capture
    assert leaked(records) == []
