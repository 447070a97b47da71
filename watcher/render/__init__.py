"""Turns a ``Digest`` into an email ``Message`` (subject, plain text, HTML) with Jinja2 templates.

Templates are looked up by name in the user's folder first (``templates:`` in the config), then
among the built-in ones in ``watcher/templates``: ``subject.txt.j2``, ``digest.txt.j2`` and
``digest.html.j2``. HTML templates autoescape; the only strings marked safe are the sanitised
HTML blocks of a record (``model.Text.html``) after highlighting, and what we build here from
escaped pieces (headings, the changes of a correction). Highlights are ``<mark>...</mark>`` in
HTML and ``[[...]]`` in plain text. A correction's changed words (``watcher.changes``) are
``<del>``/``<ins>`` with inline styles in HTML (mail clients drop ``<style>``; strike-through
and underline survive where colour does not) and ``[-...-]``/``{+...+}`` in plain text.

What each item says is prepared by ``items`` as an ``ItemView`` so templates stay
declarative; the raw ``event`` and ``record`` are there too for templates that want more.
Sending is left to ``channels``; when to send and which rows to claim is left to ``digest`` and
the pipeline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import escape

from watcher.config import Config, FeedSourceConfig, Subscription
from watcher.errors import ConfigError
from watcher.kinds import kind_of
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE, OPEN_GOVERNMENT_LICENCE_URL
from watcher.kinds.questions import OPEN_PARLIAMENT_LICENCE
from watcher.model import Digest, Message
from watcher.render.items import (
    CHANGE_KEY_TEXT,
    ItemView,
    change_key_html,
    long_date,
    view,
)
from watcher.text import strip_control

__all__ = [
    "LICENCE",
    "TEMPLATES",
    "ItemView",
    "Licence",
    "Renderer",
    "long_date",
    "source_licences",
]

# The built-in templates, which ``watcher templates export`` writes out for editing.
TEMPLATES = (
    "subject.txt.j2",
    "digest.txt.j2",
    "digest.html.j2",
    # One item of a digest, by its kind's ``template``: a question, or any other item.
    "items/question.html.j2",
    "items/question.txt.j2",
    "items/item.html.j2",
    "items/item.txt.j2",
)
LICENCE = OPEN_PARLIAMENT_LICENCE


class Licence(NamedTuple):
    """A licence line and where to read the licence ("" when there is no page to link)."""

    text: str
    url: str = ""


MAX_SUBJECT = 200

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Renderer:
    """Renders digests with the user's templates where given, the built-in ones otherwise."""

    def __init__(
        self,
        templates_dir: str | None = None,
        licences: Mapping[str, Licence] | None = None,
    ) -> None:
        # A source's own licence line (a feed's config), else its records' kind's.
        self._licences = dict(licences or {})
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
        items = [replace(view(item), number=n) for n, item in enumerate(digest.items, 1)]
        licences = self.licences(digest)
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
            "licences": licences,
            # The first, for templates written when every digest had one licence.
            "licence": licences[0].text if licences else "",
            "licence_url": licences[0].url if licences else "",
            "change_key_text": CHANGE_KEY_TEXT,
            "change_key_html": change_key_html(),
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

    def licences(self, digest: Digest) -> list[Licence]:
        """The licence lines a digest carries: one per licence its items come under, in the
        order of the items."""
        out: dict[Licence, None] = {}
        for item in digest.items:
            r = item.event.record
            kind = kind_of(r.kind)
            found = self._licences.get(r.source) or Licence(kind.licence, kind.licence_url)
            if found.text:
                out[found] = None
        return list(out)

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
        except Exception as exc:
            line = _template_line(exc, template)
            at = f"line {line}: " if line else ""
            origin = template.filename or f"{self._origin}/{name}"
            problem = f"{at}template error: {type(exc).__name__}: {exc}"
            raise ConfigError(origin, [("", problem)]) from exc

    def _error(self, name: str, exc: jinja2.TemplateError) -> ConfigError:
        # Name the file the error is in: an included partial, not always ``name``.
        where = getattr(exc, "name", None) or name
        line = getattr(exc, "lineno", None)
        origin = getattr(exc, "filename", None) or f"{self._origin}/{where}"
        at = f"line {line}: " if line else ""
        return ConfigError(origin, [("", f"{at}template error: {exc.message or exc}")])


def source_licences(config: Config) -> dict[str, Licence]:
    """The licence lines sources name themselves (a feed's ``licence:``, GOV.UK's by
    default), by source id; every other source's items carry their kind's."""
    out: dict[str, Licence] = {}
    for s in config.sources:
        if isinstance(s, FeedSourceConfig):
            line = s.licence_line
            url = OPEN_GOVERNMENT_LICENCE_URL if line == OPEN_GOVERNMENT_LICENCE else ""
            out[s.id] = Licence(line, url)
    return out


def _template_line(exc: Exception, template: jinja2.Template) -> int | None:
    """The template line a Python error was raised on, from its traceback."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == template.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _one_line(value: str, limit: int) -> str:
    line = strip_control(value)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _digest_key(digest: Digest) -> str:
    identities = sorted("\x1f".join(item.event.identity) for item in digest.items)
    data = "\n".join([digest.subscription_id, *identities])
    return hashlib.sha256(data.encode()).hexdigest()[:32]


# --- one item ------------------------------------------------------------------------------
