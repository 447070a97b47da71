"""The address guard: user-supplied URLs cannot reach private networks, checked where the
connection is made (after DNS), through both clients, against real local servers.

A "public" address here is reached through ``FakeInternet``, a network backend that routes it
to a local port: the guard and everything above it run as in production."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import httpcore
import httpx
import pytest
from http_peers import FakeInternet, PostServer, certificate

from watcher.errors import DeliveryError, FetchError
from watcher.http import (
    BackendTransport,
    ChannelClient,
    GuardedBackend,
    PoliteClient,
    RefusedAddress,
    Resolver,
    refusal,
)
from watcher.testing.scripted import Exchange, ScriptedServer, reply

PUBLIC = "93.184.216.34"
LIMITS = httpx.Limits(max_connections=2)
HINT = "(set allow_private_networks: true to allow)"


@pytest.fixture
def server() -> Iterator[PostServer]:
    with PostServer() as s:
        yield s


def polite(allow_private_networks: bool, **overrides: object) -> PoliteClient:
    settings: dict[str, object] = {
        "base_url": None,
        "user_agent": "tests",
        "timeout": 2.0,
        "max_concurrency": 1,
        "max_per_second": 50.0,
        "retries": 2,
        "backoff": 0.01,
        "max_retry_after": 1.0,
        "allow_private_networks": allow_private_networks,
    }
    settings.update(overrides)
    return PoliteClient(**settings)  # type: ignore[arg-type]


def names_resolve_to(address: str) -> Resolver:
    """A DNS server for which every name is ``address``; an IP address is itself."""

    def resolve(host: str, port: int) -> Sequence[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return [address]

    return resolve


class Recording(httpcore.NetworkBackend):
    """Records each connection asked for and makes none."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.asked.append(host)
        raise httpcore.ConnectError("recorded, not connected")


# --- which addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("224.0.0.251", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.5", "a private address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("ff02::1", "a multicast address"),
        ("2002:7f00:1::", "a loopback address inside an IPv6 address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:5", "a private address inside an IPv6 address"),  # NAT64 of 10.0.0.5
        (PUBLIC, None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ],
)
def test_the_guard_refuses_every_non_public_address_and_says_which(
    address: str, why: str | None
) -> None:
    assert refusal(address) == why


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "::ffff:127.0.0.1", "localhost"]
)
def test_a_refused_host_is_never_connected_to_unless_private_networks_are_allowed(
    host: str,
) -> None:
    inner = Recording()
    with pytest.raises(RefusedAddress) as refused:
        GuardedBackend(inner=inner).connect_tcp(host, 443)
    assert inner.asked == []
    assert refused.value.host == host
    assert refusal(refused.value.address) == refused.value.why

    allowed = Recording()
    with pytest.raises(httpcore.ConnectError, match="recorded"):
        GuardedBackend(allow_private=True, inner=allowed).connect_tcp(host, 443)
    assert allowed.asked == [host]


def test_one_private_answer_among_public_ones_refuses_the_host() -> None:
    inner = Recording()
    backend = GuardedBackend(resolver=lambda host, port: [PUBLIC, "10.1.2.3"], inner=inner)
    with pytest.raises(RefusedAddress, match=r"it resolves to 10\.1\.2\.3, a private address"):
        backend.connect_tcp("mixed.example", 443)
    assert inner.asked == []


def test_a_name_that_does_not_resolve_is_a_connect_error_as_before() -> None:
    def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(httpcore.ConnectError, match=r"cannot resolve nowhere\.example"):
        GuardedBackend(resolver=nowhere).connect_tcp("nowhere.example", 443)


# --- the channel client ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "shown_ip", "why"),
    [
        ("127.0.0.1", "127.0.0.1", "a loopback address"),
        ("localhost", "", "a loopback address"),
        ("[::1]", "::1", "a loopback address"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "a loopback address"),
    ],
)
def test_a_channel_posting_to_a_private_address_fails_permanently_and_sends_nothing(
    server: PostServer, host: str, shown_ip: str, why: str
) -> None:
    url = server.url("/services/T000/B000/SECRETSECRET", host=host)
    with ChannelClient("tests") as client, pytest.raises(DeliveryError) as failed:
        client.post(url, b"{}")
    assert failed.value.permanent
    message = str(failed.value)
    assert message.startswith(f"refused to connect to http://{host}:{server.port}/…: it resolves")
    assert f"{shown_ip}, {why} {HINT}" in message
    assert "SECRET" not in message
    assert server.received == []


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "[fd00:ec2::254]"])
def test_the_metadata_service_and_private_ranges_are_refused_before_any_connection(
    address: str,
) -> None:
    with ChannelClient("tests") as client, pytest.raises(DeliveryError) as failed:
        client.post(f"http://{address}/latest/meta-data/iam", b"")
    assert failed.value.permanent
    assert str(failed.value).startswith(f"refused to connect to http://{address}:80/…")


def test_allowed_private_networks_connect_for_real(server: PostServer) -> None:
    with ChannelClient("tests", allow_private_networks=True) as client:
        answer = client.post(server.url("/hook", host="localhost"), b'{"text": "hi"}')
    assert (answer.status, answer.text) == (200, "ok")
    assert server.received[0][2] == b'{"text": "hi"}'


def test_a_rebinding_name_is_checked_and_used_as_one_answer(server: PostServer) -> None:
    """A DNS server that answers "public" once and "127.0.0.1" afterwards, as a rebinding
    attack does. The connection goes to the address that was checked, never to the name
    again; the next connection asks again and is checked again: there is no earlier check
    whose answer could differ from the one used."""
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    internet = FakeInternet({PUBLIC: server.port})
    backend = GuardedBackend(resolver=rebinding, inner=internet)
    with ChannelClient("tests", transport=BackendTransport(backend, limits=LIMITS)) as client:
        first = client.post(f"http://rebind.example:{server.port}/hook", b"1")
    assert first.status == 200
    assert asked == ["rebind.example"]  # resolved once for the connection
    assert internet.asked == [PUBLIC]  # and connected to what was checked, not the name

    with (
        ChannelClient("tests", transport=BackendTransport(backend, limits=LIMITS)) as client,
        pytest.raises(DeliveryError, match=r"it resolves to 127\.0\.0\.1, a loopback"),
    ):
        client.post(f"http://rebind.example:{server.port}/hook", b"2")
    assert internet.asked == [PUBLIC]
    assert len(server.received) == 1


def test_tls_to_the_checked_address_still_verifies_the_original_hostname(
    tmp_path: Path,
) -> None:
    """The guard connects to an IP, but the certificate is checked against the URL's host and
    SNI names it: a certificate for another name fails."""
    good = certificate(tmp_path, "webhook.test")
    with PostServer(certificate=good) as tls:
        internet = FakeInternet({PUBLIC: tls.port})
        backend = GuardedBackend(resolver=names_resolve_to(PUBLIC), inner=internet)
        transport = BackendTransport(backend, limits=LIMITS, verify=good.client_context())
        with ChannelClient("tests", transport=transport) as client:
            answer = client.post(f"https://webhook.test:{tls.port}/hook", b"{}")
            assert answer.status == 200
            assert tls.sni == ["webhook.test"]
            with pytest.raises(DeliveryError, match="TLS failed") as failed:
                client.post(f"https://other.test:{tls.port}/hook", b"{}")
    assert "not valid for 'other.test'" in str(failed.value)
    assert not failed.value.permanent


# --- the feed client -------------------------------------------------------------------------


def test_a_guarded_source_client_refuses_a_local_feed_at_once_without_retrying() -> None:
    with ScriptedServer({"/feed": lambda e: reply(e, 200, b"<rss/>")}) as feeds:
        client = polite(allow_private_networks=False)
        try:
            with pytest.raises(FetchError) as failed:
                client.get(feeds.url("/feed?key=private"))
        finally:
            client.close()
        assert feeds.requests == []
        base = feeds.base_url
    message = str(failed.value)
    assert message.startswith(f"GET {base}/feed: refused to connect to 127.0.0.1:")
    assert message.endswith(f"it resolves to 127.0.0.1, a loopback address {HINT}")
    assert "attempt" not in message  # not retried
    assert "private" not in message.replace("allow_private_networks", "")


def test_a_guarded_source_client_still_reads_a_local_feed_when_allowed() -> None:
    with ScriptedServer({"/feed": lambda e: reply(e, 200, b"<rss/>")}) as feeds:
        client = polite(allow_private_networks=True)
        try:
            assert client.get(feeds.url("/feed")).content == b"<rss/>"
        finally:
            client.close()


def test_a_redirect_from_a_public_feed_to_a_private_address_is_refused() -> None:
    with ScriptedServer() as feeds:
        port = int(feeds.base_url.rsplit(":", 1)[1])

        def moved(exchange: Exchange) -> None:
            reply(exchange, 302, headers={"Location": f"http://127.0.0.1:{port}/admin"})

        feeds.routes |= {"/feed": moved, "/admin": lambda e: reply(e, 200, b"secret")}
        internet = FakeInternet({PUBLIC: port})
        backend = GuardedBackend(resolver=names_resolve_to(PUBLIC), inner=internet)
        client = polite(False, transport=BackendTransport(backend, limits=LIMITS))
        try:
            with pytest.raises(FetchError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
                client.get(f"http://feeds.example:{port}/feed")
        finally:
            client.close()
        assert [path for path, _ in feeds.requests] == ["/feed"]
