"""The ``email`` format: a digest as subject, plain text and HTML from the Jinja2 templates
``subject.txt.j2``, ``digest.txt.j2`` and ``digest.html.j2`` (each item by its kind's
``items/<template>.*.j2``). Pure.

The HTML's ``<style>`` rules, if a template has any, are copied onto the elements
(css-inline), because many mail clients drop ``<style>``. Headers: a Message-ID from the
idempotency key, so a re-sent copy is recognisable; ``In-Reply-To``/``References`` when the
digest follows up earlier alerts (a correction threads under the alert that first reported its
item); whatever the caller adds (List-Unsubscribe); and the headers that tell autoresponders
to stay quiet.
"""

from __future__ import annotations

import re

import css_inline

from watcher.model import Message
from watcher.render.formats import MAX_SUBJECT, DigestContext, Format, Templates, one_line
from watcher.text import strip_control

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

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

# Keep the <style> block too: clients that honour it get the media queries inlining cannot do.
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def message_id(key: str) -> str:
    return f"<{_ID_UNSAFE.sub('-', key)}@watcher>"


def inline_css(html: str) -> str:
    """``html`` with its ``<style>`` rules copied onto the elements they select. The built-in
    templates style inline already; a user's template may use a ``<style>`` block."""
    if "<style" not in html.lower():
        return html
    return _INLINER.inline(html)


def digest(ctx: DigestContext, templates: Templates) -> Message:
    context = ctx.template_context()
    subject = one_line(templates.template("subject.txt.j2", context), MAX_SUBJECT)
    context["subject"] = subject
    headers = {
        "Message-ID": message_id(ctx.key),
        "X-Watcher-Subscription": ctx.subscription.id,
        "X-Watcher-Key": ctx.key,
        # RFC 3834: tells autoresponders (out-of-office) not to answer a machine.
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if ctx.references:
        headers["In-Reply-To"] = ctx.references[0]
        headers["References"] = " ".join(ctx.references)
    headers.update(ctx.headers)
    html = templates.template("digest.html.j2", context)
    return Message(
        idempotency_key=ctx.key,
        subject=subject,
        text=templates.template("digest.txt.j2", context),
        html=inline_css(html),
        headers={name: strip_control(value) for name, value in headers.items()},
    )


def note(message: Message) -> Message:
    return message


FORMAT = Format("email", TEMPLATES, digest, note)
