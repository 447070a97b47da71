"""Kinds without a life of their own: published once, perhaps updated in place.

Each is a ``Kind`` with its texts, facets and licence; their events are ``published`` and
``updated`` (``base.Kind``). The sources that make them are in ``watcher.sources``.
"""

from __future__ import annotations

from watcher.kinds.base import Kind
from watcher.kinds.questions import OPEN_PARLIAMENT_LICENCE, OPEN_PARLIAMENT_LICENCE_URL

OPEN_GOVERNMENT_LICENCE = (
    "Contains public sector information licensed under the Open Government Licence v3.0."
)
OPEN_GOVERNMENT_LICENCE_URL = (
    "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
)

WRITTEN_STATEMENTS = Kind(
    name="written_statement",
    noun="statement",
    texts=("text",),
    facets=("house", "department", "member", "party", "uin"),
    licence=OPEN_PARLIAMENT_LICENCE,
    licence_url=OPEN_PARLIAMENT_LICENCE_URL,
)

FEED_ENTRIES = Kind(
    name="feed_entry",
    noun="entry",
    texts=("summary", "content"),
    facets=("author", "organisation", "category"),
    # A feed's own licence is the feed's business: its source config names it (``licence:``),
    # and GOV.UK's feeds default to the Open Government Licence.
    licence="",
)

HANSARD_CONTRIBUTIONS = Kind(
    name="hansard_contribution",
    noun="contribution",
    texts=("text",),
    facets=("house", "member", "section", "category"),  # category: Spoken or Written
    licence=OPEN_PARLIAMENT_LICENCE,
    licence_url=OPEN_PARLIAMENT_LICENCE_URL,
)

COMMITTEE_PUBLICATIONS = Kind(
    name="committee_publication",
    noun="publication",
    texts=("text",),
    facets=("committee", "category", "department", "house"),
    licence=OPEN_PARLIAMENT_LICENCE,
    licence_url=OPEN_PARLIAMENT_LICENCE_URL,
)
