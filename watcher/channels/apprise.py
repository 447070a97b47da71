"""Any service Apprise can reach (ntfy, Matrix, Telegram, Pushover ... ``ntfy://``,
``matrix://``, ``tgram://``): each body of a message (``render.apprise``'s JSON ``{"title",
"body", "format"}``) handed to ``Apprise.notify(body, title, body_format=format)``.

Best effort: Apprise says only whether the service took it, so

    took it               success (what the service does with it next, watcher cannot see)
    did not               retried: Apprise cannot tell a refusal from a lost connection; a
                          message failing for ``delivery.give_up_after`` is dead
    a URL Apprise cannot  permanent (``watcher check-config`` says so too): a service it
    use                   does not know, a part missing, several URLs in one

Apprise's reasons for a failure are in its log, which this channel reads back per call
(``AppriseResult.logs``) into the error, scrubbed. Its URLs hold their tokens anywhere, the
host included, so besides the log filter (reading the config registers the URL's secret parts
with it, ``logs.register_url``), Apprise's logger is kept out of ours (its DEBUG lines print
whole service URLs), and so is urllib3's, which Apprise's HTTP goes through. Apprise makes its
own connections: neither the private-network guard nor ``http.post``'s deadline applies (the
channel's ``timeout`` bounds each call). Apprise is imported when the first message is sent:
loading its plugins takes a noticeable fraction of a second that commands which never send
should not pay.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from typing import TYPE_CHECKING

from watcher.channels.base import ChannelContext
from watcher.channels.web import scrubbed
from watcher.config import AppriseChannelConfig
from watcher.errors import DeliveryError
from watcher.logs import masked_url
from watcher.model import Message

if TYPE_CHECKING:
    from apprise import Apprise

log = logging.getLogger(__name__)

FORMATS = ("text", "markdown", "html")
_LOADING = threading.Lock()


def quiet_apprise() -> None:
    """Keep Apprise's and urllib3's log lines out of ours."""
    apprise_log = logging.getLogger("apprise")
    apprise_log.propagate = False
    apprise_log.setLevel(logging.WARNING)  # what AppriseResult.logs keeps by default
    if not apprise_log.handlers:
        apprise_log.addHandler(logging.NullHandler())
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def problem(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (a service it does not know, a part missing, several
    URLs in one), or None. Imports Apprise."""
    return _problem(_load(url), url)


def _load(url: str) -> Apprise:
    quiet_apprise()
    # catch_warnings swaps the process's warning filters: one thread at a time.
    with _LOADING, warnings.catch_warnings():
        # Loading Apprise's plugins imports imghdr, deprecated since Python 3.11: theirs to
        # mend, and no concern of our users.
        warnings.simplefilter("ignore", DeprecationWarning)
        from apprise import Apprise

        manager = Apprise()
        manager.add(url)
    return manager


def _problem(manager: Apprise, url: str) -> str | None:
    if len(manager) == 0:
        return (
            f"not a URL Apprise can use ({masked_url(url)}: a service it does not know, or a "
            "part missing)"
        )
    if len(manager) > 1:
        return f"{len(manager)} Apprise URLs in one: give each its own channel"
    return None


class AppriseChannel:
    def __init__(self, config: AppriseChannelConfig, context: ChannelContext) -> None:
        quiet_apprise()
        self._config = config
        self._shown = masked_url(config.url)
        self._manager: Apprise | None = None
        # The sender's lanes may send two messages through one channel at once; Apprise does
        # not say its service objects may be shared between threads, so they take turns.
        self._turn = threading.Lock()

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def format(self) -> str:
        return self._config.format

    def send(self, message: Message, target: tuple[str, ...]) -> str:
        if not message.bodies:
            raise DeliveryError(f"channel {self.id}: the message has no body", permanent=True)
        with self._turn:
            return self._send(message)

    def _send(self, message: Message) -> str:
        manager = self._open()
        for n, body in enumerate(message.bodies):
            title, text, body_format = self._read(body)
            result = manager.notify(
                body=text,
                title=title,
                body_format=body_format,
                timeout=self._config.timeout.total_seconds(),
            )
            if not result:
                reasons = "; ".join(dict.fromkeys(e.message for e in result.logs()))
                raise DeliveryError(
                    f"channel {self.id}: {self._shown} did not take it: "
                    f"{scrubbed(reasons, self._config.url) or 'Apprise gave no reason'}",
                    parts_sent=n,
                )
            log.debug("event=apprise_sent channel=%s key=%s", self.id, message.idempotency_key)
        parts = f" ({len(message.bodies)} parts)" if len(message.bodies) > 1 else ""
        return f"{self._shown} took it{parts} (Apprise reports no more than that)"

    def _open(self) -> Apprise:
        if self._manager is None:
            manager = _load(self._config.url)
            wrong = _problem(manager, self._config.url)
            if wrong is not None:
                raise DeliveryError(f"channel {self.id}: {wrong}", permanent=True)
            self._manager = manager
        return self._manager

    def _read(self, body: str) -> tuple[str, str, str]:
        """The title, body and format a stored body holds."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not (
            isinstance(data, dict)
            and isinstance(data.get("title"), str)
            and isinstance(data.get("body"), str)
        ):
            raise DeliveryError(
                f"channel {self.id}: the message is not an apprise body (title, body, format)",
                permanent=True,
            )
        body_format = data.get("format", "text")
        if body_format not in FORMATS:
            raise DeliveryError(
                f"channel {self.id}: body format {body_format!r} is not one of "
                f"{', '.join(FORMATS)}",
                permanent=True,
            )
        return data["title"], data["body"], body_format

    def close(self) -> None:
        """Nothing held between sends that needs closing: Apprise's sessions are per call."""
