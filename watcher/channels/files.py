"""Digests as .eml files in a folder: the built-in channel, for trying watcher out without a mail
server and for handing mail to another system.

Each message becomes ``<folder>/<UTC timestamp>-<key>.eml`` (the same MIME message the SMTP
channel sends), written to a hidden temporary file and renamed into place, so a reader of the
folder never sees half a file. Which messages to write is left to the pipeline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from watcher.channels.smtp import build_email
from watcher.config import FilesChannelConfig
from watcher.errors import DeliveryError
from watcher.model import Message

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FilesChannel:
    def __init__(self, config: FilesChannelConfig, data_dir: str) -> None:
        self._config = config
        self.folder = config.folder(data_dir)

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def format(self) -> str:
        return self._config.format

    def send(self, message: Message, target: tuple[str, ...]) -> str:
        now = datetime.now(UTC)
        mail = build_email(message, self._config.from_, target, now)
        data = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
        safe_key = _UNSAFE.sub("_", message.idempotency_key)[:80].lstrip(".") or "message"
        path = self.folder / f"{now:%Y%m%dT%H%M%S%fZ}-{safe_key}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError as exc:
            raise DeliveryError(
                f"channel {self.id}: cannot write {path}: {exc.strerror or exc}",
                permanent=isinstance(exc, PermissionError | NotADirectoryError),
            ) from exc
        logger.info(
            "event=eml_written channel=%s key=%s path=%s", self.id, message.idempotency_key, path
        )
        return f"wrote {path}"

    def close(self) -> None:
        """Nothing to close: every send opens and closes its own file."""


def _write_atomically(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # The rename is durable only once the directory entry is on disk.
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
