"""What the channel tests share: channel configs for a local receiver, messages, and a look
at every log record.

    channel("slack", server.url("/hook"))     an open channel (close_opened() closes them all)
    message({"text": ...}, key=...)           a Message whose bodies are those JSON documents
    with recorded() as records: ...           every log record, at DEBUG, unredacted
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter

from watcher.channels import Channel, ChannelContext, open_channel
from watcher.config import ChannelConfig
from watcher.model import Message
from watcher.testing.scripted import Exchange

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
# A Workflows URL's shape: its query is the credential, percent-escapes and all.
TEAMS_PATH = (
    "/workflows/8b1f0c4e2d9a4f6b/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zx9-Qw_8RtYuIo0PaSdFgHjKl"
)
TOKEN = "T0SECRET/B0SECRET/Xy12SECRETSECRETtoken"  # a Slack webhook URL's path is its key
WEB_KINDS = ("slack", "teams", "discord", "webhook")
CONTEXT = ChannelContext("unused-data-dir", "watcher-tests/1", allow_private_networks=True)
_CHANNELS: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)
_OPENED: list[Channel] = []


def channel_config(kind: str, url: str, **extra: Any) -> ChannelConfig:
    values: dict[str, Any] = {"id": f"my-{kind}", "kind": kind, "url": url, "timeout": "5s"}
    if kind == "webhook":
        values["secret"] = SECRET
    if kind in WEB_KINDS:
        values["min_interval"] = "1ms"  # pacing has tests of its own
    return _CHANNELS.validate_python(values | extra)


def channel(kind: str | ChannelConfig, url: str = "", **extra: Any) -> Channel:
    """An open channel of ``kind`` posting to ``url`` (or for a config given whole)."""
    config = channel_config(kind, url, **extra) if isinstance(kind, str) else kind
    opened = open_channel(config, CONTEXT)
    _OPENED.append(opened)
    return opened


def close_opened() -> None:
    while _OPENED:
        _OPENED.pop().close()


def message(*bodies: dict[str, Any], key: str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0") -> Message:
    # Not ASCII, and not how json.dumps would write it: the bytes must go out as stored.
    return Message(
        idempotency_key=key,
        subject="[watcher] 2 new answers",
        bodies=tuple(json.dumps(b, ensure_ascii=False, indent=1) for b in bodies),
    )


@contextmanager
def recorded() -> Iterator[list[logging.LogRecord]]:
    """Every record any logger makes at DEBUG, third parties' included, before the service's
    redaction filter: what our code logs must be clean without it."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root, handler = logging.getLogger(), Keep(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sequence(*answers: Callable[[Exchange], None]) -> Callable[[Exchange], None]:
    """Answers in turn, the last one for ever after."""
    queue = list(answers)

    def answer(exchange: Exchange) -> None:
        (queue.pop(0) if len(queue) > 1 else queue[0])(exchange)

    return answer
