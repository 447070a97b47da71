"""Reading the Written Questions & Statements API's JSON: typed field access that raises
``ParseError`` naming the field, and the parts the questions and statements share (the list
envelope, members, attachments, dates, HTML text). Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from watcher import text
from watcher.errors import ParseError
from watcher.model import Attachment, Person, Text

T = TypeVar("T")


def list_page(page: Any) -> tuple[int, Sequence[Mapping[str, Any]]]:
    """``(totalResults, [value, ...])`` of one list response, or ``ParseError``."""
    if not isinstance(page, dict):
        raise ParseError("list response: expected an object")
    total = page.get("totalResults")
    results = page.get("results")
    if not isinstance(total, int) or isinstance(total, bool):
        raise ParseError("list response: field totalResults: expected an integer")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise ParseError("list response: field results: expected a list")
    values = []
    for i, item in enumerate(results):
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise ParseError(f"list response: field results[{i}].value: expected an object")
        values.append(item["value"])
    return total, values


def _type_name(kind: type[Any]) -> str:
    return {
        int: "an integer",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "an object",
    }.get(kind, kind.__name__)


def check(value: Any, name: str, kind: type[T]) -> T:
    """``value`` if it is a ``kind``; a string scrubbed of lone surrogates and control
    characters (``text.scrub``), which a JSON ``\\ud800`` escape or a stray NUL brings."""
    # bool is an int in Python but never an integer in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ParseError(f"field {name}: expected {_type_name(kind)}, got {value!r:.40}")
    if isinstance(value, str):
        return text.scrub(value)  # type: ignore[return-value]  # T is str here
    return value


def optional(v: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    value = v.get(name)
    return None if value is None else check(value, name, kind)


def required(v: Mapping[str, Any], name: str, kind: type[T]) -> T:
    if v.get(name) is None:
        raise ParseError(f"field {name}: missing")
    return check(v[name], name, kind)


def flag(v: Mapping[str, Any], name: str) -> bool:
    return bool(optional(v, name, bool))


def day(v: Mapping[str, Any], name: str) -> date | None:
    raw = optional(v, name, str)
    if not raw:
        return None
    try:
        # The API writes calendar dates as midnight without a zone: the date is what counts.
        return datetime.fromisoformat(raw).date()
    except ValueError:
        raise ParseError(f"field {name}: {raw!r:.40} is not a date") from None


def sanitised(html: str) -> Text | None:
    """Sanitised HTML and its plain text, cut at ``text.MAX_TEXT_CHARS`` with a note; None
    when it says nothing."""
    found = text.from_html(html)
    return found if found.plain else None


def html_field(v: Mapping[str, Any], name: str) -> Text | None:
    raw = optional(v, name, str)
    return sanitised(raw) if raw and raw.strip() else None


def person(v: Mapping[str, Any], member_field: str, id_field: str) -> Person | None:
    member_id = optional(v, id_field, int)
    member = optional(v, member_field, dict)
    if member is None:
        return None if member_id is None else Person(id=member_id, name=f"Member {member_id}")

    try:
        pid = optional(member, "id", int) or member_id
        name = optional(member, "name", str) or optional(member, "listAs", str) or f"Member {pid}"
        return Person(
            id=pid,
            name=name,
            party=optional(member, "party", str) or None,
            constituency=optional(member, "memberFrom", str) or None,
        )
    except ParseError as exc:
        raise nested(member_field, exc) from None


def attachments(v: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out = []
    for i, item in enumerate(optional(v, "attachments", list) or []):
        where = f"attachments[{i}]"
        entry = check(item, where, dict)
        try:
            url = required(entry, "url", str)
            attachment = Attachment(
                url=url,
                title=optional(entry, "title", str) or url.rsplit("/", 1)[-1],
                file_type=optional(entry, "fileType", str),
                size_bytes=optional(entry, "fileSizeBytes", int),
            )
        except ParseError as exc:
            raise nested(where, exc) from None
        # Links go into emails; anything but a web address (javascript:, data:) is dropped.
        if url.lower().startswith(("https://", "http://")):
            out.append(attachment)
    return tuple(out)


def nested(prefix: str, exc: ParseError) -> ParseError:
    return ParseError(f"field {prefix}.{str(exc).removeprefix('field ')}")
