"""One digest item as templates see it: ``ItemView``, built from a ``DigestItem`` by ``view``.

Everything an item says is prepared here (labels, people, dates, flags, highlighted and escaped
text, a correction's changed words) so templates stay declarative. Only strings built here from
escaped pieces, or a record's sanitised HTML after highlighting, are ``Markup``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from watcher.changes import Change, Kind, changes, words
from watcher.kinds import kind_of
from watcher.match import explain
from watcher.model import (
    Attachment,
    DigestItem,
    Event,
    EventType,
    Hit,
    Person,
    QuestionBody,
    Record,
    Status,
    Text,
)
from watcher.text import highlight_html, highlight_text, mark_change_html, mark_change_text

TEXT_MARKS = ("[[", "]]")
TEXT_CHANGE_MARKS = {Kind.REMOVED: ("[-", "-]"), Kind.ADDED: ("{+", "+}")}
CHANGE_STYLES = {
    Kind.REMOVED: "background-color:#fde2e1;color:#8a1f17;text-decoration:line-through;",
    Kind.ADDED: "background-color:#d7f0dd;color:#0b5d2b;text-decoration:underline;",
}
CHANGE_KEY_TEXT = "[-removed words-] {+added words+}"

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
class TextView:
    """One named text of an item other than a question (a statement's text, an entry's
    summary), highlighted."""

    label: str  # "Statement", "Summary" ...
    html: Markup
    text: str


@dataclass(frozen=True)
class TogetherView:
    """Another question answered together with an item's, in the same digest."""

    uin: str
    asked_by: str | None
    question_html: Markup | None
    question_text: str | None


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
    uin: str | None  # a question's number in its House
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
    # Items other than questions (whose parts are the fields above): their texts, and who
    # and what they concern ("By", "Department", "Committee" ...).
    texts: tuple[TextView, ...] = ()
    together: tuple[TogetherView, ...] = ()  # questions answered with this one
    details: tuple[tuple[str, str], ...] = ()
    site: str = "the Parliament website"  # where ``url`` leads: "Read it on ..."
    template: str = "item"  # its kind's: templates items/<template>.html.j2 and .txt.j2
    number: int = 0  # its place in the digest, from 1


def view(item: DigestItem) -> ItemView:
    event, r = item.event, item.event.record
    q = r.body if isinstance(r.body, QuestionBody) else None
    label, noun, plural = _labels(event, kind_of(r.kind).noun, q is not None)
    old = _old_answer(event)
    answer = r.text("answer")
    change = changes(old.plain, answer.plain if answer else "") if old else None
    return ItemView(
        event=event,
        record=r,
        label=label,
        noun=noun,
        noun_plural=plural,
        heading_html=_mark_plain(r.title, _spans(item.hits, "title")),
        heading_text=highlight_text(r.title, _spans(item.hits, "title"), *TEXT_MARKS),
        house=_house(q.house if q else r.facet("house")),
        uin=q.uin if q else r.facet("uin"),
        asked_by=_person(q.asked_by) if q else None,
        answered_by=_person(q.answered_by) if q else None,
        corrected_by=_person(q.corrected_by) if q else None,
        department=q.department if q else None,  # others: in ``details``
        question_html=_mark_html(r.text("question"), _spans(item.hits, "question")),
        question_text=_mark_text(r.text("question"), _spans(item.hits, "question")),
        answer_html=_mark_html(answer, _spans(item.hits, "answer")),
        answer_text=_mark_text(answer, _spans(item.hits, "answer")),
        old_answer_html=_mark_html(old, []),
        old_answer_text=old.plain if old else None,
        change=change,
        change_html=_change_html(change),
        change_text=mark_change_text(change, TEXT_CHANGE_MARKS) if change else None,
        dates=_dates(q) if q else ((("Published", long_date(r.day)),) if r.day else ()),
        flags=_flags(event, q, old, change) if q else (),
        grouped=tuple(
            f"UIN {g.uin}" + (f" (tabled {long_date(g.date_tabled)})" if g.date_tabled else "")
            for g in (q.grouped if q else ())
        ),
        # Not the page the item links to already (a one-document committee publication).
        attachments=tuple(_link(a) for a in r.attachments if q or a.url != r.url),
        rules=item.rule_ids,
        why=explain(item.hits).removeprefix("matched").lstrip(": "),
        url=safe_url(r.url),
        texts=() if q else _texts(r, item.hits),
        together=tuple(_together(e) for e in item.together),
        details=() if q else _details(r),
        site=_site(r.url),
        template=kind_of(r.kind).template,
    )


def _together(event: Event) -> TogetherView:
    body = event.record.body
    q = body if isinstance(body, QuestionBody) else None
    question = event.record.text("question")
    return TogetherView(
        uin=(q.uin if q else None) or event.record.key,
        asked_by=_person(q.asked_by) if q else None,
        question_html=_mark_html(question, []),
        question_text=question.plain if question else None,
    )


def _labels(event: Event, noun: str, question: bool) -> tuple[str, str, str]:
    if question or event.type not in _GENERAL:
        return _LABELS.get(event.type, (event.type.value.title(), "update", "updates"))
    label, adjective = _GENERAL[event.type]
    return label, f"{adjective} {noun}", f"{adjective} {noun}s"


_GENERAL = {EventType.PUBLISHED: ("New", "new"), EventType.UPDATED: ("Updated", "updated")}
# What a text is called in a digest, where its name alone would not say it.
_TEXT_LABELS = {"text": "Text", "summary": "Summary", "content": "Full text"}
_DETAILS = (
    ("member", "By"),
    ("author", "By"),
    ("department", "Department"),
    ("organisation", "Organisation"),
    ("committee", "Committee"),
    ("section", "Debate"),
    ("category", "Category"),
)
_SITES = (  # most specific first
    ("parliament.uk", "the Parliament website"),
    ("niassembly.gov.uk", "the Northern Ireland Assembly website"),
    ("gov.uk", "GOV.UK"),
    ("parliament.scot", "the Scottish Parliament website"),
)


def _texts(r: Record, hits: tuple[Hit, ...]) -> tuple[TextView, ...]:
    out = []
    title = " ".join(r.title.split())
    for name, value in r.texts.items():
        if " ".join(value.plain.split()) == title:
            continue  # a text that only says the title again (a publication's description)
        html, text = _mark_html(value, _spans(hits, name)), _mark_text(value, _spans(hits, name))
        if html is not None and text is not None:
            out.append(TextView(_TEXT_LABELS.get(name, name.replace("_", " ").title()), html, text))
    return tuple(out)


def _details(r: Record) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for name, label in _DETAILS:
        # Ids are labels too (written as digits), for filters; a reader wants the names.
        names = [v for v in r.facets.get(name, ()) if not v.isdigit()]
        if names and label not in out:
            out[label] = ", ".join(names)
    return tuple(out.items())


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    for domain, name in _SITES:
        if host == domain or host.endswith("." + domain):
            return name
    return host or "the source's website"


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
    stored = event.previous.text("answer") if event.previous is not None else None
    body = event.record.body
    original = body.original_answer if isinstance(body, QuestionBody) else None
    known = [t for t in (stored, original) if t and t.plain.strip()]
    answer = event.record.text("answer")
    new = words(answer.plain if answer else "")
    return next((t for t in known if words(t.plain) != new), known[0] if known else None)


def _change_html(change: Change | None) -> Markup | None:
    if change is None:
        return None
    # mark_change_html escapes every piece of source text and adds only <p>, <br> and
    # <del>/<ins> with our styles.
    return Markup(mark_change_html(change, CHANGE_STYLES))  # noqa: S704


def change_key_html() -> Markup:
    removed, added = (
        f'<{tag} style="{CHANGE_STYLES[kind]}">{kind.value} words</{tag}>'
        for kind, tag in ((Kind.REMOVED, "del"), (Kind.ADDED, "ins"))
    )
    return Markup(f"{removed}, {added}")  # noqa: S704 - our own constants, no source text


def _house(house: str | None) -> str | None:
    if not house:
        return None
    # Westminster's two Houses are "the House of ..."; a devolved parliament says its name.
    return f"House of {house}" if house.lower() in ("commons", "lords") else house


def _person(p: Person | None) -> str | None:
    if p is None or not p.name:
        return None
    details = ", ".join(x for x in (p.party, p.constituency) if x)
    return f"{p.name} ({details})" if details else p.name


def _dates(r: QuestionBody) -> tuple[tuple[str, str], ...]:
    pairs = (
        ("Tabled", r.date_tabled),
        ("Due for answer", r.date_for_answer),
        ("Holding answer", r.date_holding),
        ("Answered", r.date_answered),
        ("Corrected", r.date_corrected),
    )
    return tuple((label, long_date(d)) for label, d in pairs if d is not None)


def _flags(
    event: Event, r: QuestionBody, old: Text | None, change: Change | None
) -> tuple[Flag, ...]:
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
    return Link(title=a.title or a.url, url=safe_url(a.url))


def safe_url(url: str) -> str | None:
    """``url`` if it is an http(s) address fit to link, else None."""
    # Only http(s): a javascript: or data: address from a source must never become a link.
    return url if _SAFE_URL.match(url) else None
