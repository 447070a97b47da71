"""Turns a ``Digest`` into the ``Message`` a channel sends, in the channel's format
(``FORMATS``): ``email`` (subject, plain text, HTML); the chat formats ``slack``, ``teams``,
``discord`` and ``apprise`` (``chat``: JSON bodies around texts from templates, a long digest
in several parts within the peer's limits); and ``webhook`` (versioned JSON from data,
``docs/webhook-payload.schema.json``). JSON is always built from data, never by pasting text
into JSON.

Templates are looked up by name in the user's folder first (``templates:`` in the config), then
among the built-in ones in ``watcher/templates``: ``subject.txt.j2``, ``digest.txt.j2`` and
``digest.html.j2`` for email, and each chat format's ``<format>/header.md.j2`` and
``<format>/item.md.j2``. They render in Jinja2's sandbox, so a template can read what it is
given and call nothing unsafe. Markdown (``*.md.j2``) and plain-text templates do not
autoescape: a chat template escapes with its format's filters (``slack``, ``teams_marked``
...), registered here for every format. HTML templates autoescape; the
only strings marked safe are the sanitised HTML blocks of a record (``model.Text.html``) after
highlighting, and what we build here from escaped pieces (headings, the changes of a
correction). Highlights are ``<mark>...</mark>`` in
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
from zoneinfo import ZoneInfo

import jinja2
import jinja2.sandbox
from markupsafe import escape

from watcher.config import Config, FeedSourceConfig, Subscription
from watcher.errors import ConfigError
from watcher.kinds import kind_of
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE, OPEN_GOVERNMENT_LICENCE_URL
from watcher.kinds.questions import OPEN_PARLIAMENT_LICENCE
from watcher.model import Digest, Message
from watcher.render import apprise, discord, email, slack, teams, webhook
from watcher.render.formats import DigestContext, Format, Licence
from watcher.render.items import (
    ItemView,
    long_date,
    view,
)
from watcher.text import strip_control

__all__ = [
    "FORMATS",
    "LICENCE",
    "TEMPLATES",
    "ItemView",
    "Licence",
    "Renderer",
    "long_date",
    "source_licences",
]

# What each channel kind's ``format`` names: how a digest or a note becomes its Message.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        email.FORMAT,
        slack.FORMAT,
        teams.FORMAT,
        discord.FORMAT,
        webhook.FORMAT,
        apprise.FORMAT,
    )
}

# The built-in templates, which ``watcher templates export`` writes out for editing.
TEMPLATES = tuple(dict.fromkeys(name for f in FORMATS.values() for name in f.templates))
LICENCE = OPEN_PARLIAMENT_LICENCE


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
        # Sandboxed: a user's template reads its context and cannot reach Python beyond it.
        self._env = jinja2.sandbox.SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            # Plain-text templates (*.txt.j2, *.md.j2) are not HTML; everything else is escaped.
            autoescape=jinja2.select_autoescape(
                disabled_extensions=("txt.j2", "md.j2"), default=True, default_for_string=True
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["long_date"] = long_date
        for f in FORMATS.values():
            self._env.filters.update(f.filters)

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

    def test_message(
        self, subscription: Subscription, key: str, now: datetime, format: str = "email"
    ) -> Message:
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
        message = Message(
            idempotency_key=key,
            subject=f"[watcher] test message for {subscription.id}",
            text=text,
            html=html,
            headers={
                "Message-ID": f"<{_ID_UNSAFE.sub('-', key)}@watcher>",
                "X-Watcher-Subscription": strip_control(subscription.id),
                "Auto-Submitted": "auto-generated",
            },
        )
        return self.note(message, format)

    def note(self, message: Message, format: str) -> Message:
        """An email-shaped note (a test message, an operator's notice) in ``format``."""
        return _format(format).note(message)

    def render(
        self,
        digest: Digest,
        format: str,
        subscription: Subscription,
        tz: ZoneInfo,
        idempotency_key: str | None = None,
        *,
        sender: str = "",
        references: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Message:
        """The digest as a ``format`` message for ``subscription``.

        ``idempotency_key`` should be the key the delivery was claimed under
        (``digest.idempotency_key``), so the Message-ID matches the store's delivery; without
        it, a key is derived from the subscription and the events in the digest, which is as
        deterministic but unknown to the store. ``sender`` (an email channel's From) is shown
        in the footer. ``references`` are the Message-IDs of earlier messages this one follows
        up (a correction under the alert that first reported its item). ``headers`` are extra
        email headers (List-Unsubscribe).
        """
        key = idempotency_key or _digest_key(digest)
        items = tuple(replace(view(item), number=n) for n, item in enumerate(digest.items, 1))
        context = DigestContext(
            digest=digest,
            subscription=subscription,
            items=items,
            licences=tuple(self.licences(digest)),
            key=key,
            tz=tz,
            sender=sender,
            references=references,
            headers=dict(headers or {}),
        )
        return _format(format).digest(context, self)

    def template(self, name: str, context: Mapping[str, object]) -> str:
        """Render one template by name (the user's, else the built-in one)."""
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

    def _error(self, name: str, exc: jinja2.TemplateError) -> ConfigError:
        # Name the file the error is in: an included partial, not always ``name``.
        where = getattr(exc, "name", None) or name
        line = getattr(exc, "lineno", None)
        origin = getattr(exc, "filename", None) or f"{self._origin}/{where}"
        at = f"line {line}: " if line else ""
        return ConfigError(origin, [("", f"{at}template error: {exc.message or exc}")])


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError("", [("", f"no message format {name!r}")]) from None


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


def _digest_key(digest: Digest) -> str:
    identities = sorted("\x1f".join(item.event.identity) for item in digest.items)
    data = "\n".join([digest.subscription_id, *identities])
    return hashlib.sha256(data.encode()).hexdigest()[:32]


# --- one item ------------------------------------------------------------------------------
