"""The GOV.UK Content API: the body of a page a GOV.UK feed entry links to.

GOV.UK's finder and organisation feeds carry a one-line summary; the page's text is at
``https://www.gov.uk/api/content/<path of the page>``, a JSON document whose ``details.body``
is the page's HTML (a publication lists its ``details.documents`` instead). ``content_of``
reads it; what is new and what to fetch is the feed source's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from watcher import text
from watcher.errors import ParseError
from watcher.http import PoliteClient
from watcher.model import Text

GOV_UK_HOST = "www.gov.uk"


def is_gov_uk(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "").lower() == GOV_UK_HOST


def content_url(api: str, page: str) -> str:
    """Where the Content API keeps ``page`` (a www.gov.uk address)."""
    return api.rstrip("/") + (urlsplit(page).path or "/")


def content_of(client: PoliteClient, api: str, page: str) -> Text | None:
    """The text of a GOV.UK page, or None if the Content API gives it none. Raises
    ``SourceError`` (``FetchError``, ``ParseError``) as the client does."""
    body = client.get_json(content_url(api, page))
    return body_text(body, page)


def body_text(body: Any, page: str) -> Text | None:
    """The text in a Content API answer: ``details.body``, else its ``documents``. Pure."""
    if not isinstance(body, Mapping):
        raise ParseError(f"content of {urlsplit(page).path}: expected an object")
    details = body.get("details")
    if not isinstance(details, Mapping):
        return None
    html = details.get("body")
    if not isinstance(html, str) or not html.strip():
        documents = details.get("documents")
        parts = [d for d in documents if isinstance(d, str)] if isinstance(documents, list) else []
        html = "".join(parts)
    found = text.from_html(html) if html.strip() else None
    return found if found is not None and found.plain.strip() else None
