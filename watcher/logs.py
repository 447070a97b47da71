"""Logging set-up, and keeping secrets out of what is shown. Log lines are events with fields,
never sentences::

    2026-11-28T15:34:11Z INFO watcher.pipeline event=poll_done source=written-questions new=3

Call sites write ``logger.info("event=poll_done source=%s new=%d", ...)``; values that may
contain spaces are quoted with ``q``.

Secrets (a Slack or Discord webhook URL's path, a Teams URL's ``sig``, signing secrets, SMTP
passwords) are kept out in two ways:

    masked_url(url)       a channel URL as it may be shown: https://hooks.slack.com:443/…
    SecretUrl(url)        a URL that shows itself masked (str, repr, a config's dump) and
                          gives the real one only to get_secret_value(); a pydantic field type
    redact_url(dsn)       a store URL with only its password hidden: postgresql://u:***@h/db
    register_secret(s)    the log handlers ``configure`` installs replace ``s`` with *** in
    register_url(url)     every line (and traceback), whoever logged it; config loading
                          registers every secret it reads. redact(text) does the same to any text

The registry is a last line of defence, not the first: code shows URLs masked, and our channel
client never logs a URL. Strings shorter than ``MIN_SECRET`` are not registered: they occur in
ordinary text, and replacing them would shred every line.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

MIN_SECRET = 4
# A path segment or query value at least this long is registered on its own as well: tokens
# are, words ("services", "webhooks") are not.
_MIN_TOKEN = 16
_MASK = "***"


def q(value: object) -> str:
    """A field value, quoted when it holds spaces or quotes, on one line."""
    s = " ".join(str(value).split())
    if not s or any(c in s for c in ' "='):
        return '"' + s.replace('"', "'") + '"'
    return s


def redact_url(url: str) -> str:
    """A URL with its password hidden, for messages: ``postgresql://u:***@host/db``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


# --- URLs as they may be shown ---------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def masked_url(url: str) -> str:
    """``url`` as it may be shown: ``scheme://host:port/…``. The host and port are not secret;
    the path and query are (a Slack incoming-webhook URL *is* its credential; a Teams Workflows
    URL carries ``sig`` in its query), and so is any user or password. A URL of another scheme
    (Apprise's ``slack://TokenA/...``) may hold a token even as its host: only its scheme shows."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port  # ValueError for a port that is not a number
    except ValueError:
        return "<malformed URL>"
    if scheme not in _DEFAULT_PORTS:
        return f"{scheme}://…" if scheme else "<malformed URL>"
    if not host:
        return f"{scheme}://<no host>/…"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port or _DEFAULT_PORTS[scheme]}/…"


class SecretUrl:
    """A URL that shows itself masked (``masked_url``) everywhere but ``get_secret_value()``.
    As a pydantic field type it accepts text and dumps masked."""

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    def get_secret_value(self) -> str:
        return self._url

    def __str__(self) -> str:
        return masked_url(self._url)

    def __repr__(self) -> str:
        return f"SecretUrl({masked_url(self._url)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        text = core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(strip_whitespace=True, min_length=1)
        )
        return core_schema.no_info_before_validator_function(
            lambda v: v.get_secret_value() if isinstance(v, SecretUrl) else v,
            text,
            serialization=core_schema.to_string_ser_schema(),
        )


# --- the registry of secrets -----------------------------------------------------------------

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """From now on, ``value`` is shown as *** in every line our handlers write (and in
    ``redact``). Values shorter than ``MIN_SECRET`` are ignored."""
    global _pattern
    if value is None or len(value) < MIN_SECRET:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a whole URL path is replaced before a token inside it.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_url(url: str | SecretUrl | None) -> None:
    """Register what ``masked_url`` hides in ``url`` (``url_secrets``)."""
    if url is not None:
        for piece in url_secrets(url):
            register_secret(piece)


def url_secrets(url: str | SecretUrl) -> list[str]:
    """What ``masked_url`` hides in ``url``: its path and query (together, apart, and
    percent-decoded), long path segments and query values, and any password; for a URL that is
    not http(s), everything after the scheme as well."""
    text = (url.get_secret_value() if isinstance(url, SecretUrl) else url).strip()
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return [text]
    pieces = [parts.path, parts.query, parts.fragment]
    pieces.append(parts.path + ("?" + parts.query if parts.query else ""))
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        pieces += [text.partition("://")[2], parts.netloc]
    pieces += [s for s in parts.path.split("/") if len(s) >= _MIN_TOKEN]
    pieces += [v for _, v in parse_qsl(parts.query) if len(v) >= _MIN_TOKEN]
    found = [password] if password and len(password) >= MIN_SECRET else []
    for piece in pieces:
        if len(piece.strip("/")) >= MIN_SECRET:
            found += [piece] if unquote(piece) == piece else [piece, unquote(piece)]
    return found


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ***."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(_MASK, text)


class SecretFilter(logging.Filter):
    """Replaces registered secrets in a record's message, traceback and stack by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler's emit reports it
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter at INFO is noise in an event log; httpx's INFO line and httpcore's
    # DEBUG ones would also show whole URLs.
    for name in ("httpx", "httpcore", "apscheduler", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)
