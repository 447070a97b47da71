"""What the channel tests share: channel configs for a local receiver, messages, and a look
at every log record.

    channel("slack", server.url("/hook"))     an open channel (close_opened() closes them all)
    message({"text": ...}, key=...)           a Message whose bodies are those JSON documents
    with recorded() as records: ...           every log record, at DEBUG, unredacted
    service_config(tmp_path, api, [channel])  a whole service's config for ``watcher`` runs
    outbox(config)                            its outbox rows, with the items each holds
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from watcher.channels import Channel, ChannelContext, open_channel
from watcher.config import ChannelConfig
from watcher.model import Message
from watcher.store import Delivery, PendingItem, open_store
from watcher.testing.cli import watcher
from watcher.testing.fakeapi import FakeParliamentAPI
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


# --- the whole service ------------------------------------------------------------------------

SINCE = "2024-01-08"


def service_config(
    tmp_path: Path,
    api: FakeParliamentAPI,
    channels: list[dict[str, Any]],
    subscriptions: list[dict[str, Any]] | None = None,
    *,
    query: str = "funding",
    every: str = "15m",
) -> Path:
    """A config for ``watcher`` runs: the fake API, ``channels``, and (unless given) two
    subscriptions on the first channel: ``team``, whose rule matches several of the fixtures
    questions, and ``quiet``, whose rule matches nothing. Retries start after a second, a
    claim lasts two seconds; the store is in the data dir."""
    first = channels[0]["id"]
    config = {
        "store": f"sqlite:///{tmp_path}/data/watcher.db",
        "data_dir": str(tmp_path / "data"),
        "contact": "tests@example.org",
        "allow_private_networks": True,
        "delivery": {"retry_first": "1s", "claim_for": "2s"},
        "sources": [
            {
                "id": "written-questions",
                "kind": "parliament_written_questions",
                "base_url": api.base_url,
                "every": every,
                "lookback_days": 3,
                "retries": 1,
                "backoff": "10ms",
                "timeout": "2s",
                "max_per_second": 20,
            }
        ],
        "channels": channels,
        "rules": [
            {"id": "send", "query": query},
            {"id": "nothing", "query": "zyzzyva AND quokka"},
        ],
        "subscriptions": subscriptions
        or [
            {"id": "team", "rules": ["send"], "channel": first},
            {"id": "quiet", "rules": ["nothing"], "channel": first},
        ],
    }
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_once(config: Path, *extra: str) -> Any:
    return watcher(config, *extra, "run", "--once", "--since", SINCE)


def outbox(config: Path) -> list[tuple[Delivery, list[PendingItem]]]:
    """Every outbox row, oldest first, with the items it holds, read from the store."""
    # Not read(): reading a config registers its secrets with this process's log filter, and
    # short paths such as /hook would then be masked in other tests' lines.
    store = open_store(yaml.safe_load(config.read_text())["store"])
    try:
        rows = sorted(store.outbox(), key=lambda d: d.id)
        return [(d, store.delivery_items(d.id)) for d in rows]
    finally:
        store.close()
