"""An RSS or Atom document's bytes as ``feed_entry`` records: pure, no I/O.

feedparser reads every dialect (RSS 0.9x, 1.0 and 2.0, Atom 0.3 and 1.0) and is liberal about
dates and encodings. It is only ever given bytes, wrapped in a stream: given a string it would
fetch a URL or open a file, and given bytes it would try them as a file name first. It strips
every ``<!ENTITY>`` declaration but plain literal ones and asks expat not to load external
entities, so a crafted document can neither expand exponentially nor reach anything.

    entry identity   the entry's id (Atom ``id``, RSS ``guid``), else its link (normalised),
                     else a hash of its title and text; at most 200 characters (longer ones
                     are hashed)
    title            plain text, whitespace collapsed
    url              the entry's link, only http(s); else its id if that is an http(s) URL
    day              published, else updated, as a UTC date
    texts            summary and content, each sanitised HTML (nh3) and its plain text; a
                     summary that says what the content says is left out
    facets           author, category (tags), organisation (``dc:publisher``, if any)
    attachments      enclosures with http(s) URLs

A document feedparser calls ``bozo`` (not well-formed) is still read when entries came out of
it: ``Parsed.problem`` says what was wrong, for the log. One from which no entry came and that
is not a well-formed empty feed is a ``ParseError``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser

from watcher import text
from watcher.errors import ParseError
from watcher.kinds.base import facets
from watcher.model import Attachment, Record, Text, fingerprint_of

KIND = "feed_entry"
MAX_KEY = 200  # the store's key column
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Parsed:
    records: tuple[Record, ...]
    problem: str | None = None  # what made the document not well-formed, if it was not


def parse_feed(content: bytes, source_id: str, url: str, content_type: str | None = None) -> Parsed:
    """The records of one feed document. ``url`` is where it came from (relative links resolve
    against it); ``content_type`` the answer's header, which may name the encoding."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        doc = feedparser.parse(io.BytesIO(content), response_headers=headers)
    except Exception as exc:  # feedparser's own bugs on hostile input are a bad document
        raise ParseError(f"feed: feedparser failed: {type(exc).__name__}: {exc}") from exc
    problem = _problem(doc) if doc.get("bozo") else None
    entries: Sequence[Mapping[str, Any]] = doc.get("entries") or ()
    if problem and not entries:
        raise ParseError(f"feed: not a feed we can read: {problem}")
    if not entries and not doc.get("version"):
        raise ParseError("feed: not an RSS or Atom document")
    records: dict[str, Record] = {}
    for entry in entries:
        record = parse_entry(entry, source_id)
        # A key twice in one document: the first (newest, in a feed's usual order) wins.
        records.setdefault(record.key, record)
    return Parsed(tuple(records.values()), problem)


def _problem(doc: Mapping[str, Any]) -> str:
    exc = doc.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else "not well-formed"


def parse_entry(entry: Mapping[str, Any], source_id: str) -> Record:
    title = " ".join(_plain_title(entry).split())
    summary = _text(entry.get("summary_detail"))
    content = _first_content(entry)
    if summary is not None and content is not None and _same(summary, content):
        summary = None
    texts = {n: t for n, t in (("summary", summary), ("content", content)) if t is not None}
    link = _web(entry.get("link"))
    entry_id = _str(entry.get("id"))
    return Record(
        source=source_id,
        key=_key(entry_id, link, title, texts),
        kind=KIND,
        title=title,
        url=link or _web(entry_id) or "",
        day=_day(entry.get("published_parsed")) or _day(entry.get("updated_parsed")),
        texts=texts,
        facets=facets(
            author=_authors(entry),
            organisation=(_str(entry.get("publisher")),),
            category=tuple(
                _str(t.get("term")) or _str(t.get("label")) for t in entry.get("tags") or ()
            ),
        ),
        attachments=_enclosures(entry),
    )


def normalise_link(link: str) -> str:
    """A link as an identity: scheme and host in lower case, no default port, no fragment."""
    parts = urlsplit(link.strip())
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _key(entry_id: str | None, link: str | None, title: str, texts: Mapping[str, Text]) -> str:
    if entry_id:
        key = " ".join(entry_id.split())
    elif link:
        key = normalise_link(link)
    else:
        # Nothing names the entry: what it says does, so an edited one is a new entry.
        said = [title, *(t.plain for t in texts.values())]
        key = "text:" + fingerprint_of(said)
    return key if len(key) <= MAX_KEY else "sha:" + fingerprint_of(key)


def _str(value: Any) -> str | None:
    return text.scrub(value).strip() or None if isinstance(value, str) else None


def _web(value: Any) -> str | None:
    """``value`` if it is an http(s) URL: links go into emails, javascript: and data: do not."""
    s = _str(value)
    if s and s.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in s):
        return s
    return None


def _plain_title(entry: Mapping[str, Any]) -> str:
    detail = entry.get("title_detail") or {}
    value = _str(entry.get("title")) or ""
    if detail.get("type") in _HTML_TYPES:
        return text.html_to_text(text.sanitise_html(value))
    return text.scrub(value)


def _text(detail: Mapping[str, Any] | None) -> Text | None:
    if not detail:
        return None
    value = detail.get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    found = text.from_html(value) if detail.get("type") in _HTML_TYPES else text.from_plain(value)
    return found if found.plain.strip() else None


def _first_content(entry: Mapping[str, Any]) -> Text | None:
    for detail in entry.get("content") or ():
        found = _text(detail)
        if found is not None:
            return found
    return None


def _same(a: Text, b: Text) -> bool:
    return a.plain.split() == b.plain.split()


def _authors(entry: Mapping[str, Any]) -> tuple[str | None, ...]:
    names = tuple(_str(a.get("name")) for a in entry.get("authors") or () if hasattr(a, "get"))
    return names if any(names) else (_str(entry.get("author")),)


def _day(parsed: Any) -> date | None:
    """feedparser's UTC ``struct_time`` as a date."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    except ValueError:
        return None


def _enclosures(entry: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out: list[Attachment] = []
    for e in entry.get("enclosures") or ():
        url = _web(e.get("href"))
        if url is None:
            continue
        length = _str(e.get("length"))
        out.append(
            Attachment(
                url=url,
                title=url.rstrip("/").rsplit("/", 1)[-1] or url,
                file_type=_str(e.get("type")),
                size_bytes=int(length) if length and length.isdigit() else None,
            )
        )
    return tuple(out)
