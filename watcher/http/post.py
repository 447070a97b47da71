"""The HTTP client channels post with (Slack, Teams, Discord, webhooks): one request per call,
and every way it can fail a ``DeliveryError`` that shows the destination only masked.

    client = ChannelClient(user_agent, allow_private_networks=config.allow_private_networks)
    reply = client.post(url, body, {"Content-Type": "application/json"})   -> PostResponse
    reply.status, reply.headers["retry-after"], reply.text, reply.retry_after

What it does not do, on purpose: retry (the outbox retries, with the stored payload), follow a
redirect (a 3xx comes back like any answer: a webhook that moved is the operator's to fix, and
following it would re-send the body somewhere nobody configured), or judge the status (what a
403 or a 429 means is the channel's call). Once a status line has arrived the answer is
returned, whatever happens to its body afterwards: the peer has the message, and an error
would make the outbox send it twice.

Limits: a timeout on every socket operation and a deadline on the whole exchange (connecting,
TLS, sending, the headers and the body: ``network.deadline``); at most ``max_text`` bytes of
the body are kept (the rest is left unread, ``truncated``). Connections go through the address
guard (``guard``) unless ``allow_private_networks``.

Failures, translated here once:

    DeliveryError(permanent=True)    a URL that is not http(s) or does not parse; a host the
                                     guard refuses
    DeliveryError(permanent=False)   DNS, refused or reset connections, TLS failures (a
                                     certificate may be renewed), timeouts, the deadline

No URL's path or query reaches a log line or a message: this client bypasses ``httpx.Client``
(whose INFO line logs whole URLs), and the text of a foreign exception is scrubbed of the
URL's secret parts and the header values before it is quoted.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from watcher import __version__
from watcher.errors import DeliveryError
from watcher.http.guard import GuardedBackend, RefusedAddress, Resolver
from watcher.http.headers import retry_after
from watcher.http.network import BackendTransport, DeadlineBackend
from watcher.http.network import deadline as network_deadline
from watcher.logs import masked_url, redact, url_secrets

DEFAULT_TIMEOUT = 10.0  # seconds for each socket operation
DEFAULT_DEADLINE = 30.0  # seconds for the whole exchange
DEFAULT_MAX_TEXT = 64 * 1024
_MIN_HEADER_SECRET = 8  # header values this long are scrubbed from messages (a bearer token)


@dataclass(frozen=True, slots=True)
class PostResponse:
    """What the server answered: the status, the headers (names lower-cased; repeated headers
    joined with ", "), and the body as text, at most ``max_text`` bytes of it, decoded by its
    charset (else UTF-8), undecodable bytes replaced. ``truncated``: the body went on past the
    limit, or stopped arriving (the deadline, a lost connection) before its end."""

    status: int
    headers: Mapping[str, str]
    text: str
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float | None:
        """``Retry-After`` in seconds from now, if the server sent a valid one."""
        return retry_after(self.headers.get("retry-after"))


def channel_transport(
    *,
    allow_private_networks: bool = False,
    max_connections: int = 10,
    verify: ssl.SSLContext | bool = True,
    resolver: Resolver | None = None,
) -> httpx.BaseTransport:
    """The transport ``ChannelClient`` uses by default: guarded (unless allowed), deadlined.
    ``verify`` and ``resolver`` are for tests (a local CA, a DNS server that changes its mind)."""
    guarded = GuardedBackend(allow_private=allow_private_networks, resolver=resolver)
    return BackendTransport(
        DeadlineBackend(guarded),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        verify=verify,
    )


class ChannelClient:
    """POSTs to channels' endpoints. A ``transport`` replaces the network (tests); without
    one, ``channel_transport(allow_private_networks=...)``. Safe to share between threads."""

    def __init__(
        self,
        user_agent: str | None = None,
        *,
        allow_private_networks: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_text: int = DEFAULT_MAX_TEXT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout <= 0 or deadline <= 0 or max_text < 0:
            raise ValueError("timeout > 0, deadline > 0 and max_text >= 0")
        self._user_agent = user_agent or f"watcher/{__version__}"
        self._timeout, self._deadline, self._max_text = timeout, deadline, max_text
        self._transport = transport or channel_transport(
            allow_private_networks=allow_private_networks
        )

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> PostResponse:
        """POST ``body`` to ``url`` with ``headers`` (after our User-Agent, which they may
        replace), once. Raises ``DeliveryError``; see the module docstring."""
        seconds = self._deadline if deadline is None else deadline
        per_operation = min(self._timeout if timeout is None else timeout, seconds)
        shown = masked_url(url)
        given = dict(headers or {})
        request = self._request(url, shown, body, given, per_operation)
        ends = time.monotonic() + seconds
        with network_deadline(seconds):
            try:
                response = self._transport.handle_request(request)
            except RefusedAddress as exc:
                raise DeliveryError(
                    f"refused to connect to {shown}: {exc.explanation}", permanent=True
                ) from exc
            except (httpx.HTTPError, OSError) as exc:
                # A socket timeout capped at the time left may wake a hair early.
                late = time.monotonic() >= ends - 0.05
                raise _failure(exc, f"POST {shown}", seconds, late, url, given) from exc
            try:
                return self._read(response)
            finally:
                response.close()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> ChannelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(
        self, url: str, shown: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> httpx.Request:
        try:
            request = httpx.Request(
                "POST",
                url,
                content=body,
                headers={
                    "User-Agent": self._user_agent,
                    # The body is read raw (no decompression bomb): ask for it uncompressed.
                    "Accept-Encoding": "identity",
                    **headers,
                },
                extensions={"timeout": httpx.Timeout(timeout).as_dict()},
            )
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            # Neither quoted nor chained: the parser's complaint may repeat part of the URL,
            # and a logged traceback would show it.
            raise DeliveryError(
                f"POST {shown}: not a URL we can post to ({type(exc).__name__})", permanent=True
            ) from None
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise DeliveryError(
                f"POST {shown}: not a URL we can post to (http or https, with a host)",
                permanent=True,
            )
        return request

    def _read(self, response: httpx.Response) -> PostResponse:
        body = bytearray()
        truncated = False
        try:
            if response.is_stream_consumed:  # built in memory (a MockTransport's answer)
                body += response.content
            else:
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > self._max_text:
                        break
        except (httpx.HTTPError, OSError):
            truncated = True  # the status came; the rest of the body did not
        if len(body) > self._max_text:
            del body[self._max_text :]
            truncated = True
        return PostResponse(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            text=_text(bytes(body), response.charset_encoding),
            truncated=truncated,
        )


def _text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _failure(
    exc: Exception, what: str, seconds: float, late: bool, url: str, headers: Mapping[str, str]
) -> DeliveryError:
    """The ``DeliveryError`` a failed exchange deserves, its foreign text scrubbed."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return DeliveryError(f"{what}: not a URL we can post to", permanent=True)
    if late:
        return DeliveryError(f"{what}: no answer within the {seconds:g}s deadline")
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryError(f"{what}: timed out ({type(exc).__name__})")
    tls = _ssl_error(exc)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            reason = f"certificate verify failed: {tls.verify_message}"
        else:
            reason = tls.reason or type(tls).__name__
        return DeliveryError(f"{what}: TLS failed ({_scrub(str(reason), url, headers)})")
    kind = "connection failed" if isinstance(exc, httpx.ConnectError) else "transport error"
    detail = _scrub(str(exc) or type(exc).__name__, url, headers)
    return DeliveryError(f"{what}: {kind} ({type(exc).__name__}: {detail})")


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind ``exc`` (httpx wraps httpcore's error, which wraps it)."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _scrub(text: str, url: str, headers: Mapping[str, str]) -> str:
    """``text`` without the URL's secret parts, the header values, or a registered secret."""
    secrets = [*url_secrets(url), *(v for v in headers.values() if len(v) >= _MIN_HEADER_SECRET)]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact(text)
