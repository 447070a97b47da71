"""The address guard: user-supplied URLs (webhooks, feeds) may not reach private networks.

Whoever writes a webhook or feed URL could otherwise make the service reach what only the
service can reach: its own ports on 127.0.0.1, a database on 10.x, the cloud's metadata service
at 169.254.169.254 and the credentials it hands out. The guard is an httpcore network backend,
so it decides where each connection really goes, after DNS:

    connect_tcp(host, port)
      1 resolve   the resolver (getaddrinfo) → every address, once per connection
      2 check     each address (an IPv4-mapped or NAT64 IPv6 address as the IPv4 address it
                  stands for; the IPv4 address inside a 6to4 address as well): one refused
                  address refuses the host
      3 connect   to a checked IP itself, never to the name again, each in turn until one
                  answers; TLS still verifies and sends SNI for the original hostname, which
                  httpcore takes from the URL, not from the address connected to

Checking only here, at connect time, is what defeats DNS rebinding: a name that resolves to a
public address when some earlier check asks and to 127.0.0.1 a moment later is resolved exactly
once per connection, and that answer is both checked and used.

Refused: loopback, private (RFC 1918 and the like), link-local, unique-local (fc00::/7),
multicast, unspecified, reserved, carrier-grade NAT (100.64.0.0/10), cloud metadata
(169.254.169.254, fd00:ec2::254), and anything else ``ipaddress`` does not call global.

A refusal is ``RefusedAddress``; the clients translate it (``FetchError`` for sources,
``DeliveryError(permanent=True)`` for channels), naming the URL as they show it. A proxy would
connect on our behalf, out of the guard's sight, so a guarded client uses none.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable, Sequence

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the IP addresses it resolves to, as text; raises OSError when it resolves to
# nothing. A test passes its own to play a DNS server that changes its mind.
Resolver = Callable[[str, int], Sequence[str]]

HINT = "set allow_private_networks: true to allow"

_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(Exception):  # noqa: N818 - translated by the clients, never shown raw
    """A connection the guard refused: ``host`` resolves to ``address``, which is ``why``."""

    def __init__(self, host: str, port: int, address: str, why: str) -> None:
        self.host, self.port, self.address, self.why = host, port, address, why
        super().__init__(f"refused to connect to {host}:{port}: {self.explanation}")

    @property
    def explanation(self) -> str:
        """``it resolves to 10.0.0.5, a private address (set allow_private_networks: ...)``."""
        return f"it resolves to {self.address}, {self.why} ({HINT})"


def refusal(address: str | IPAddress) -> str | None:
    """Why the guard refuses ``address`` (``"a loopback address"``), or None for a public one.
    Raises ``ValueError`` for text that is not an IP address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel, so it is judged as that.
            return refusal(ip.ipv4_mapped)
        if ip in _NAT64:
            # DNS64 gives every IPv4-only host such an address on an IPv6-only network: it is
            # the IPv4 address inside that the gateway connects to (Python calls them reserved).
            why = refusal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return f"{why} inside an IPv6 address" if why else None
        if ip.sixtofour is not None and (why := refusal(ip.sixtofour)) is not None:
            return f"{why} inside an IPv6 address"
    return _category(ip)


def _category(ip: IPAddress) -> str | None:
    if ip in _METADATA:
        return "a cloud metadata address"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a carrier-grade NAT address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL, "a unique-local address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "a non-public address"),
    )
    return next((why for refused, why in checks if refused), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every IPv4 and IPv6 address ``getaddrinfo`` gives for ``host``, in its order, once each."""
    found: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6):
            address = str(sockaddr[0])
            if address not in found:
                found.append(address)
    return found


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that refuses hosts resolving to non-public addresses and
    connects to the address it checked. ``allow_private`` turns the check off (the connection
    then goes exactly as ``inner`` makes it); ``resolver`` replaces DNS (tests)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolver or system_resolver
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if self._allow_private:
            return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = self._addresses(host, port)
        for address in addresses:
            why = refusal(address)
            if why is not None:
                raise RefusedAddress(host, port, address, why)
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address may answer, as socket.create_connection tries
        assert failure is not None  # _addresses never returns an empty list
        raise failure

    def _addresses(self, host: str, port: int) -> list[str]:
        """What ``host`` resolves to, each a valid IP address; httpcore's ``ConnectError``
        (as for any failure to connect) when it resolves to nothing."""
        try:
            found = list(self._resolve(host, port))
        except (OSError, UnicodeError) as exc:  # socket.gaierror; an IDNA label too long
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        for address in found:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise httpcore.ConnectError(f"{host} resolved to {address!r}, not an IP") from exc
        return found

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a guarded client connects over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
