"""Turns a ``Digest`` into an email ``Message`` (subject, plain text, HTML) with Jinja2 templates.

Templates are looked up by name in the user's folder first (``templates:`` in the config), then
among the built-in ones in ``watcher/templates``: ``subject.txt.j2``, ``digest.txt.j2`` and
``digest.html.j2``. HTML templates autoescape; the only strings marked safe are the sanitised
HTML blocks of a record (``model.Text.html``) after highlighting, and what we build here from
escaped pieces (headings, the changes of a correction). Highlights are ``<mark>...</mark>`` in
HTML and ``[[...]]`` in plain text. A correction's changed words (``watcher.changes``) are
``<del>``/``<ins>`` with inline styles in HTML (mail clients drop ``<style>``; strike-through
and underline survive where colour does not) and ``[-...-]``/``{+...+}`` in plain text.

What each item says is prepared here as an ``ItemView`` so templates stay declarative; the raw
``event`` and ``record`` are there too for templates that want more. Sending is left to
``channels``; when to send and which rows to claim is left to ``digest`` and the pipeline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from watcher.changes import Change, Kind, changes, words
from watcher.config import Subscription
from watcher.errors import ConfigError
from watcher.match import explain
from watcher.model import (
    Attachment,
    Digest,
    DigestItem,
    Event,
    EventType,
    Hit,
    Message,
    Person,
    Record,
    Status,
    Text,
)
from watcher.text import (
    highlight_html,
    highlight_text,
    mark_change_html,
    mark_change_text,
    strip_control,
)

# The built-in templates, which ``watcher templates export`` writes out for editing.
TEMPLATES = ("subject.txt.j2", "digest.txt.j2", "digest.html.j2")
LICENCE = "Contains Parliamentary information licensed under the Open Parliament Licence v3.0."
LICENCE_URL = (
    "https://www.parliament.uk/site-information/copyright-parliament/open-parliament-licence/"
)
TEXT_MARKS = ("[[", "]]")
TEXT_CHANGE_MARKS = {Kind.REMOVED: ("[-", "-]"), Kind.ADDED: ("{+", "+}")}
CHANGE_STYLES = {
    Kind.REMOVED: "background-color:#fde2e1;color:#8a1f17;text-decoration:line-through;",
    Kind.ADDED: "background-color:#d7f0dd;color:#0b5d2b;text-decoration:underline;",
}
CHANGE_KEY_TEXT = "[-removed words-] {+added words+}"
MAX_SUBJECT = 200

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_LABELS = {
    EventType.ANSWERED: ("Answered", "new answer", "new answers"),
    EventType.CORRECTED: ("Corrected", "corrected answer", "corrected answers"),
    EventType.HOLDING: ("Holding answer", "holding answer", "holding answers"),
    EventType.TABLED: ("Tabled", "new question", "new questions"),
    EventType.WITHDRAWN: ("Withdrawn", "withdrawn question", "withdrawn questions"),
}
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def long_date(d: date | datetime | None) -> str:
    """``15 January 2024``, whatever the locale."""
    if d is None:
        return ""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


@dataclass(frozen=True)
class Flag:
    kind: str  # holding, replaces_holding, corrected, withdrawn, named_day, interest
    text: str


@dataclass(frozen=True)
class Link:
    title: str
    url: str | None  # None when the source gave something other than an http(s) address


@dataclass(frozen=True)
class ItemView:
    """One digest item as templates see it. ``*_html`` fields are safe Markup."""

    event: Event
    record: Record
    label: str  # "Answered", "Corrected" ...
    noun: str  # "new answer", "corrected answer" ...
    noun_plural: str  # "new answers" ...
    heading_html: Markup
    heading_text: str
    house: str | None
    asked_by: str | None
    answered_by: str | None
    corrected_by: str | None
    department: str | None
    question_html: Markup | None
    question_text: str | None
    answer_html: Markup | None
    answer_text: str | None
    old_answer_html: Markup | None  # corrections: the answer as it stood before
    old_answer_text: str | None
    change: Change | None  # corrections: the changed passages of the answer, when words changed
    change_html: Markup | None  # those passages, one <p> each, with <del>/<ins>
    change_text: str | None  # those passages with [-...-]/{+...+}, a blank line between them
    dates: tuple[tuple[str, str], ...]  # (label, "15 January 2024")
    flags: tuple[Flag, ...]
    grouped: tuple[str, ...]  # "UIN 8603 (tabled 8 January 2024)"
    attachments: tuple[Link, ...]
    rules: tuple[str, ...]
    why: str  # "SEND workforce in the answer"
    url: str | None


class Renderer:
    """Renders digests with the user's templates where given, the built-in ones otherwise."""

    def __init__(self, templates_dir: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        self._user = jinja2.FileSystemLoader(templates_dir) if templates_dir else None
        if self._user is not None:
            loaders.append(self._user)
        loaders.append(jinja2.PackageLoader("watcher", "templates"))
        self._origin = templates_dir or "watcher/templates"
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            # Plain-text templates (*.txt.j2) are not HTML; everything else is escaped.
            autoescape=jinja2.select_autoescape(
                disabled_extensions=("txt.j2",), default=True, default_for_string=True
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["long_date"] = long_date

    def check(self) -> None:
        """Compile every template: the built-in ones and every ``*.j2`` in the user's folder
        (partials included), so a broken override fails at start-up, not at send time. A
        template that compiles can still fail when rendered; ``watcher check-config`` renders a
        sample digest for that."""
        names = set(TEMPLATES)
        if self._user is not None:
            names |= {n for n in self._user.list_templates() if n.endswith(".j2")}
        for name in sorted(names):
            self._template(name)

    @property
    def overrides(self) -> tuple[str, ...]:
        """The user's templates that replace a built-in one."""
        if self._user is None:
            return ()
        return tuple(n for n in self._user.list_templates() if n in TEMPLATES)

    def test_message(self, subscription: Subscription, key: str, now: datetime) -> Message:
        """A small message that proves a subscription's channel works; no templates, so it
        goes out even when a template is broken. ``key`` should be unique per test."""
        stamp = f"{now:%H:%M:%S} UTC on {long_date(now)}"
        text = (
            f"This is a test message from watcher for subscription {subscription.id}, sent "
            f"at {stamp} by `watcher check-config --send-test`.\n\n"
            "If you can read it, digests for this subscription will reach you here.\n"
        )
        html = (
            '<!DOCTYPE html><html lang="en"><body style="font-family:Arial,sans-serif;">'
            f"<p>{escape(text.split(chr(10))[0])}</p>"
            "<p>If you can read it, digests for this subscription will reach you here.</p>"
            "</body></html>"
        )
        return Message(
            idempotency_key=key,
            recipients=tuple(subscription.to),
            subject=f"[watcher] test message for {subscription.id}",
            text=text,
            html=html,
            headers={
                "Message-ID": f"<{_ID_UNSAFE.sub('-', key)}@watcher>",
                "X-Watcher-Subscription": strip_control(subscription.id),
                "Auto-Submitted": "auto-generated",
            },
        )

    def email(
        self,
        digest: Digest,
        subscription: Subscription,
        sender: str,
        tz: ZoneInfo,
        idempotency_key: str | None = None,
    ) -> Message:
        """The digest as an email to ``subscription.to``.

        ``idempotency_key`` should be the key the delivery was claimed under
        (``digest.idempotency_key``), so the Message-ID matches the store's delivery; without
        it, a key is derived from the subscription and the events in the digest, which is as
        deterministic but unknown to the store. ``sender`` (the channel's From) is shown in the
        footer; the channel sets the From header itself.
        """
        key = idempotency_key or _digest_key(digest)
        items = [_view(item) for item in digest.items]
        rules = tuple(dict.fromkeys(r for item in digest.items for r in item.rule_ids))
        local_end = digest.period_end.astimezone(tz)
        context = {
            "digest": digest,
            "subscription": subscription,
            "items": items,
            "rules": rules,
            "sender": sender,
            "period_end": local_end,
            "period_end_text": f"{local_end:%H:%M} on {long_date(local_end)}",
            "timezone": tz.key,
            "licence": LICENCE,
            "licence_url": LICENCE_URL,
            "change_key_text": CHANGE_KEY_TEXT,
            "change_key_html": _change_key_html(),
        }
        subject = _one_line(self._render("subject.txt.j2", context), MAX_SUBJECT)
        context["subject"] = subject
        message_id = f"<{_ID_UNSAFE.sub('-', key)}@watcher>"
        headers = {
            "Message-ID": message_id,
            "X-Watcher-Subscription": subscription.id,
            "X-Watcher-Key": key,
            # RFC 3834: tells autoresponders (out-of-office) not to answer a machine.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        }
        return Message(
            idempotency_key=key,
            recipients=tuple(subscription.to),
            subject=subject,
            text=self._render("digest.txt.j2", context),
            html=self._render("digest.html.j2", context),
            headers={name: strip_control(value) for name, value in headers.items()},
        )

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateError as exc:
            raise self._error(name, exc) from exc

    def _render(self, name: str, context: dict[str, object]) -> str:
        template = self._template(name)
        try:
            return template.render(context)
        except jinja2.TemplateError as exc:
            raise self._error(name, exc) from exc

    def _error(self, name: str, exc: jinja2.TemplateError) -> ConfigError:
        # Name the file the error is in: an included partial, not always ``name``.
        where = getattr(exc, "name", None) or name
        line = getattr(exc, "lineno", None)
        origin = getattr(exc, "filename", None) or f"{self._origin}/{where}"
        at = f"line {line}: " if line else ""
        return ConfigError(origin, [("", f"{at}template error: {exc.message or exc}")])


def _one_line(value: str, limit: int) -> str:
    line = strip_control(value)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _digest_key(digest: Digest) -> str:
    identities = sorted("\x1f".join(item.event.identity) for item in digest.items)
    data = "\n".join([digest.subscription_id, *identities])
    return hashlib.sha256(data.encode()).hexdigest()[:32]


# --- one item ------------------------------------------------------------------------------


def _view(item: DigestItem) -> ItemView:
    event, r = item.event, item.event.record
    label, noun, plural = _LABELS.get(event.type, (event.type.value.title(), "update", "updates"))
    old = _old_answer(event)
    change = changes(old.plain, r.answer.plain if r.answer else "") if old else None
    return ItemView(
        event=event,
        record=r,
        label=label,
        noun=noun,
        noun_plural=plural,
        heading_html=_mark_plain(r.title, _spans(item.hits, "heading")),
        heading_text=highlight_text(r.title, _spans(item.hits, "heading"), *TEXT_MARKS),
        house=_house(r.house),
        asked_by=_person(r.asked_by),
        answered_by=_person(r.answered_by),
        corrected_by=_person(r.corrected_by),
        department=r.department,
        question_html=_mark_html(r.question, _spans(item.hits, "question")),
        question_text=_mark_text(r.question, _spans(item.hits, "question")),
        answer_html=_mark_html(r.answer, _spans(item.hits, "answer")),
        answer_text=_mark_text(r.answer, _spans(item.hits, "answer")),
        old_answer_html=_mark_html(old, []),
        old_answer_text=old.plain if old else None,
        change=change,
        change_html=_change_html(change),
        change_text=mark_change_text(change, TEXT_CHANGE_MARKS) if change else None,
        dates=_dates(r),
        flags=_flags(event, old, change),
        grouped=tuple(
            f"UIN {g.uin}" + (f" (tabled {long_date(g.date_tabled)})" if g.date_tabled else "")
            for g in r.grouped
        ),
        attachments=tuple(_link(a) for a in r.attachments),
        rules=item.rule_ids,
        why=explain(item.hits).removeprefix("matched").lstrip(": "),
        url=_safe_url(r.url),
    )


def _spans(hits: tuple[Hit, ...], field: str) -> list[tuple[int, int]]:
    return [(h.start, h.end) for h in hits if h.field == field and h.end > h.start]


def _mark_plain(value: str, spans: list[tuple[int, int]]) -> Markup:
    """Plain text as HTML with spans marked: escaped piece by piece, so offsets hold exactly."""
    out: list[str] = []
    pos = 0
    for start, end in _merged(spans, len(value)):
        out.append(str(escape(value[pos:start])))
        out.append(f"<mark>{escape(value[start:end])}</mark>")
        pos = end
    out.append(str(escape(value[pos:])))
    return Markup("".join(out))  # noqa: S704 - every piece was escaped above


def _merged(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(length, e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mark_html(block: Text | None, spans: list[tuple[int, int]]) -> Markup | None:
    if block is None or not block.plain.strip():
        return None
    # Text.html is sanitised when the record is built; highlight_html escapes the text it
    # re-emits and adds only <mark>.
    return Markup(highlight_html(block.html, spans))  # noqa: S704


def _mark_text(block: Text | None, spans: list[tuple[int, int]]) -> str | None:
    if block is None or not block.plain.strip():
        return None
    return highlight_text(block.plain, spans, *TEXT_MARKS)


def _old_answer(event: Event) -> Text | None:
    """The answer before a correction: the stored version, else the source's original.

    Of the two, the first whose words differ from the corrected answer: the version stored
    last may already hold the corrected words when only the flag or the date came later.
    """
    if event.type != EventType.CORRECTED:
        return None
    stored = event.previous.answer if event.previous is not None else None
    known = [t for t in (stored, event.record.original_answer) if t and t.plain.strip()]
    new = words(event.record.answer.plain if event.record.answer else "")
    return next((t for t in known if words(t.plain) != new), known[0] if known else None)


def _change_html(change: Change | None) -> Markup | None:
    if change is None:
        return None
    # mark_change_html escapes every piece of source text and adds only <p>, <br> and
    # <del>/<ins> with our styles.
    return Markup(mark_change_html(change, CHANGE_STYLES))  # noqa: S704


def _change_key_html() -> Markup:
    removed, added = (
        f'<{tag} style="{CHANGE_STYLES[kind]}">{kind.value} words</{tag}>'
        for kind, tag in ((Kind.REMOVED, "del"), (Kind.ADDED, "ins"))
    )
    return Markup(f"{removed}, {added}")  # noqa: S704 - our own constants, no source text


def _house(house: str | None) -> str | None:
    if not house:
        return None
    return house if house.lower().startswith("house of") else f"House of {house}"


def _person(p: Person | None) -> str | None:
    if p is None or not p.name:
        return None
    details = ", ".join(x for x in (p.party, p.constituency) if x)
    return f"{p.name} ({details})" if details else p.name


def _dates(r: Record) -> tuple[tuple[str, str], ...]:
    pairs = (
        ("Tabled", r.date_tabled),
        ("Due for answer", r.date_for_answer),
        ("Holding answer", r.date_holding),
        ("Answered", r.date_answered),
        ("Corrected", r.date_corrected),
    )
    return tuple((label, long_date(d)) for label, d in pairs if d is not None)


def _flags(event: Event, old: Text | None, change: Change | None) -> tuple[Flag, ...]:
    r = event.record
    flags: list[Flag] = []
    if event.type == EventType.WITHDRAWN or r.status == Status.WITHDRAWN:
        flags.append(Flag("withdrawn", "Withdrawn: this question has been withdrawn."))
    if event.type == EventType.HOLDING or (
        r.status == Status.HOLDING and event.type != EventType.ANSWERED
    ):
        flags.append(
            Flag("holding", "Holding answer: the department has promised a full answer later.")
        )
    if event.replaces_holding:
        since = f" of {long_date(r.date_holding)}" if r.date_holding else ""
        flags.append(
            Flag("replaces_holding", f"Full answer: this replaces the holding answer{since}.")
        )
    if event.type == EventType.CORRECTED:
        when = f" on {long_date(r.date_corrected)}" if r.date_corrected else ""
        who = f" by {_person(r.corrected_by)}" if r.corrected_by else ""
        if change is not None:
            shown = (
                "what changed is shown first, then the corrected answer and the answer before "
                "the correction in full."
            )
        elif old is not None:
            shown = (
                "the words of the answer are unchanged; the corrected answer and the answer "
                "before the correction are both shown."
            )
        else:
            shown = (
                "the answer before the correction is not available, so what changed cannot be "
                "shown."
            )
        flags.append(Flag("corrected", f"Corrected{when}{who}: {shown}"))
    if r.named_day and r.date_for_answer:
        flags.append(
            Flag("named_day", f"Named day question: due for answer {long_date(r.date_for_answer)}.")
        )
    if r.member_has_interest:
        flags.append(Flag("interest", "The asking member has declared a relevant interest."))
    return tuple(flags)


def _link(a: Attachment) -> Link:
    return Link(title=a.title or a.url, url=_safe_url(a.url))


def _safe_url(url: str) -> str | None:
    # Only http(s): a javascript: or data: address from a source must never become a link.
    return url if _SAFE_URL.match(url) else None
