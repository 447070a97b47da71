"""What a GET answers, as sources see it: the body or a 304, and the validators to send next
time. No httpx type crosses this line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from watcher.errors import ParseError


@dataclass(frozen=True, slots=True)
class Validators:
    """What identifies the answer a server gave last time, to ask next time "has it changed?"."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """The conditional request headers these validators make."""
        sent: dict[str, str] = {}
        if self.etag:
            sent["If-None-Match"] = self.etag
        if self.last_modified:
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True, slots=True)
class Response:
    """A whole 2xx answer, or a 304 (``not_modified``: no body, and the validators to keep)."""

    status: int
    url: str  # the final URL, after redirects
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        """What to send next time as ``validators``, so an unchanged answer comes back a 304."""
        return Validators(self.etag, self.last_modified)

    def json(self) -> Any:
        """The body decoded as JSON. Raises ``ParseError``."""
        if self.not_modified:
            raise ValueError("a 304 Not Modified has no body to decode")
        return decode_json(self.content, f"GET {label(self.url)}")


def decode_json(content: bytes, what: str) -> Any:
    """``content`` as JSON (UTF-8, as RFC 8259 requires). Raises ``ParseError`` naming ``what``."""
    if not content.strip():
        raise ParseError(f"{what}: response body is empty, not JSON")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{what}: response is not UTF-8 (byte {content[exc.start]:#04x} at {exc.start})"
        ) from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ParseError(f"{what}: response JSON is nested too deeply to decode") from exc
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise ParseError(f"{what}: response is not JSON: {text[:60]!r}") from exc


def label(url: str) -> str:
    """``url`` for messages and logs: without credentials, query or fragment, which may hold
    tokens (a private feed's ``?key=``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
