"""An operator's health notice as a ``Message``: a one-line subject, short text and minimal HTML.
Pure. No templates, so a notice still goes out when a digest template is broken.

What a notice shows comes from a source's errors, which may quote URLs: every line is made one
line, cut, and any ``scheme://user:password@`` has its password hidden.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from html import escape

from watcher.incidents import Kind, Notice
from watcher.model import Message

_CREDENTIALS = re.compile(r"(://[^/\s:@]+):[^@\s/]+@")  # scheme://user:password@
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
SUBJECT_DETAIL = 120
TEXT_DETAIL = 1000

_WHAT = {
    Kind.FAILING: "failing",
    Kind.SILENT: "silent (nothing new)",
    Kind.UNPARSABLE: "unparsable",
}


def clean(text: str, limit: int) -> str:
    """One line, passwords hidden, at most ``limit`` characters."""
    line = _CREDENTIALS.sub(r"\1:***@", " ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def notice_key(operator: str, notice: Notice) -> str:
    """The same for a notice however often it is rendered: its Message-ID."""
    change = "opened" if notice.opened else "closed"
    stamp = f"{notice.since:%Y%m%dT%H%M%SZ}"
    return _KEY_UNSAFE.sub(
        "-", f"watcher-notice.{notice.source}.{notice.kind}.{change}.{stamp}.{operator}"
    )


def notice_message(notice: Notice, operator: str, tz: tzinfo) -> Message:
    """The notice as an email-shaped note (``Renderer.note`` makes it any format's)."""
    since = _local(notice.since, tz)
    what = _WHAT[notice.kind]
    if notice.opened:
        # The subject ends with the reason ("HTTP 500"), the last part of an error that says
        # what failed first; the text has it whole.
        reason = notice.detail.rsplit(": ", 1)[-1]
        subject = f"source {notice.source} {what} since {since}: {reason}"
        lead = f"Source {notice.source} has been {what} since {since}."
    else:
        subject = f"source {notice.source} recovered: no longer {what} (since {since})"
        lead = f"Source {notice.source} is no longer {what}; it was since {since}."
    detail = clean(notice.detail, TEXT_DETAIL)
    decided = f"Decided by the poll of {_local(notice.at, tz)}."
    after = (
        "You will hear once more when it recovers. `watcher status` shows every source."
        if notice.opened
        else "`watcher status` shows every source."
    )
    text = f"{lead}\n\n{detail}\n\n{decided}\n{after}\n"
    html = (
        '<!DOCTYPE html><html lang="en"><body style="font-family:Arial,sans-serif;">'
        f"<p><strong>{escape(lead)}</strong></p><p>{escape(detail)}</p>"
        f"<p>{escape(decided)}<br>{escape(after)}</p></body></html>"
    )
    key = notice_key(operator, notice)
    return Message(
        idempotency_key=key,
        subject="[watcher] " + clean(subject, SUBJECT_DETAIL),
        text=text,
        html=html,
        headers={
            "Message-ID": f"<{key}@watcher>",
            "X-Watcher-Source": clean(notice.source, 200),
            "X-Watcher-Incident": f"{notice.kind} {'opened' if notice.opened else 'closed'}",
            "Auto-Submitted": "auto-generated",
        },
    )


def _local(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
