"""Logging set-up. Log lines are events with fields, never sentences::

    2026-11-28T15:34:11Z INFO watcher.pipeline event=poll_done source=written-questions new=3

Call sites write ``logger.info("event=poll_done source=%s new=%d", ...)``; values that may
contain spaces are quoted with ``q``.
"""

from __future__ import annotations

import logging
import sys
import time


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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter at INFO is noise in an event log.
    for name in ("httpx", "httpcore", "apscheduler", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)
