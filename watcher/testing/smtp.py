"""A real SMTP server on 127.0.0.1 for tests and ``watcher demo``: aiosmtpd in a thread.

It keeps what it accepts (``messages``, ``received``) and can be told to refuse the next few
commands (``refuse``), so a test can show that a refused digest stays unsent. It counts the
connections clients open (``connections``), can hang up on a client (``hang_up``: when MAIL
arrives, or just after a message was accepted, as a server closing an idle connection or one
that sent its quota does) and can take a message and then keep its answer back (``hold``: the
server has the message, the client does not know yet). With ``users`` it offers AUTH PLAIN/LOGIN
(without TLS: this is a local test server) and requires it for MAIL. Not for production mail:
everything is kept in memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Stage = Literal["rcpt", "data"]
HangUpStage = Literal["mail", "data"]


@dataclass(frozen=True)
class Received:
    """One accepted message with its envelope."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None  # the user that authenticated, if any
    raw: bytes = b""  # the message as the DATA command carried it (dot-unstuffed, CRLF lines)


class _PortZeroController(Controller):
    def __init__(self, handler: Any, on_connection: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._on_connection = on_connection

    # Controller checks readiness by connecting to the port it was given; with port 0 (let the
    # OS choose) that must be the port actually bound.
    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def factory(self) -> Any:
        # Called once for every connection a client opens.
        self._on_connection()
        return super().factory()  # type: ignore[no-untyped-call]


class SmtpTestServer:
    """Use as a context manager (or ``start()`` / ``stop()``)::

    with SmtpTestServer() as smtp:
        ...send to smtp.host, smtp.port...
        assert len(smtp.messages) == 1
    """

    def __init__(
        self, *, users: Mapping[str, str] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self._requested_port = port
        self._users = dict(users) if users is not None else None
        self._lock = threading.Lock()
        self._refusals: dict[Stage, list[str]] = {"rcpt": [], "data": []}
        self._hang_ups: dict[HangUpStage, int] = {"mail": 0, "data": 0}
        self._connections = 0
        self._holding = False
        self.held = threading.Event()  # set when a message is taken and its answer held back
        self._release = threading.Event()
        self.received: list[Received] = []
        self._controller: Any = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("SmtpTestServer is not running")
        return int(self._controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed with ``email.policy.default``, oldest first."""
        with self._lock:
            return [r.message for r in self.received]

    def refuse(
        self,
        times: int = 1,
        code: int = 451,
        message: str = "Requested action aborted: try again later",
        stage: Stage = "data",
    ) -> None:
        """Answer the next ``times`` DATA (or RCPT) commands with ``code`` instead of accepting.

        4xx codes are temporary refusals, 5xx permanent. With ``stage="rcpt"`` each recipient
        is one RCPT command.
        """
        if not 400 <= code < 600:
            raise ValueError(f"a refusal needs a 4xx or 5xx code, not {code}")
        with self._lock:
            self._refusals[stage].extend([f"{code} {message}"] * times)

    @property
    def connections(self) -> int:
        """How many connections clients have opened since the server started."""
        with self._lock:
            return self._connections

    def hang_up(self, times: int = 1, stage: HangUpStage = "data") -> None:
        """Close the connection on the client ``times`` times: with ``stage="mail"`` when its
        next MAIL command arrives, without answering it; with ``stage="data"`` right after
        accepting its next message (the 250 is sent, then the connection closed)."""
        with self._lock:
            self._hang_ups[stage] += times

    def hold(self) -> None:
        """Take the next messages (they are in ``received``) but keep the answer to DATA back
        until ``release()``: a crash of the client now leaves a message the server has and
        the client never heard about. ``held`` is set once a message is held."""
        with self._lock:
            self._holding = True
            self._release.clear()

    def release(self) -> None:
        """Answer the held messages (250) and hold no more."""
        with self._lock:
            self._holding = False
            self._release.set()

    def start(self) -> SmtpTestServer:
        kwargs: dict[str, Any] = {}
        if self._users is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        controller = _PortZeroController(
            _Handler(self),
            self._connected,
            hostname=self.host,
            port=self._requested_port,
            server_hostname="watcher-test-smtp",
            **kwargs,
        )
        controller.start()
        with self._lock:
            self._connections = 0  # the controller's own readiness check is not a client
        self._controller = controller
        return self

    def stop(self) -> None:
        self._release.set()  # a held answer must not keep the server's thread from stopping
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- called from the server's thread ---

    def _take_refusal(self, stage: Stage) -> str | None:
        with self._lock:
            pending = self._refusals[stage]
            return pending.pop(0) if pending else None

    def _keep(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    def _take_hang_up(self, stage: HangUpStage) -> bool:
        with self._lock:
            if self._hang_ups[stage] > 0:
                self._hang_ups[stage] -= 1
                return True
            return False

    @property
    def _holds(self) -> bool:
        with self._lock:
            return self._holding

    @property
    def requires_login(self) -> bool:
        return self._users is not None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        if isinstance(auth_data, LoginPassword) and self._users is not None:
            login = auth_data.login.decode("utf-8", "replace")
            if self._users.get(login) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class _Handler:
    def __init__(self, owner: SmtpTestServer) -> None:
        self._owner = owner

    async def handle_MAIL(  # noqa: N802 (aiosmtpd hook name)
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._owner._take_hang_up("mail"):
            # Gone without a word: what a client sees of a connection the server dropped.
            server.transport.abort()
            return "421 4.4.2 closing connection"  # written nowhere: the transport is gone
        if self._owner.requires_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._owner._take_refusal("rcpt")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        refusal = self._owner._take_refusal("data")
        if refusal is not None:
            return refusal
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        if not isinstance(parsed, EmailMessage):  # policy.default always builds EmailMessage
            return "554 5.6.0 Message could not be parsed"
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self._owner._keep(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=parsed,
                login=login,
                raw=bytes(envelope.original_content),
            )
        )
        if self._owner._holds:
            self._owner.held.set()
            while not self._owner._release.is_set():
                await asyncio.sleep(0.02)
        if self._owner._take_hang_up("data"):
            # After the 250 below is written: a server closing the connection between messages.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 Message accepted for delivery"
