"""The configuration of sources, one model per ``kind``, and what every source sets about its
health (``SourceHealth``). ``SourceConfig`` is their union, told apart by ``kind``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator

from watcher.config.base import Duration, Frozen, PollInterval, Silence, Timeout
from watcher.kinds.published import OPEN_GOVERNMENT_LICENCE

PARLIAMENT_API = "https://questions-statements-api.parliament.uk"
HANSARD_API = "https://hansard-api.parliament.uk"
COMMITTEES_API = "https://committees-api.parliament.uk"


# --- source health (operator alerts, ``watcher.incidents``) ---------------------------------


class SourceHealth(Frozen):
    """What every kind of source sets about its health: a base for each source config (a new
    source config inherits it and gets the same keys with the same defaults)."""

    # Consecutive failed polls before operators are alerted (and told again on recovery).
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    # Operators are alerted when a poll fails to parse more than this share of the items it
    # read (or its listing); 0 alerts on any parse error.
    parse_error_threshold: float = Field(default=0.25, ge=0, lt=1)
    # None: the source may be quiet for ever. Counted in working days (Monday to Friday in the
    # config's time zone, England & Wales bank holidays excepted) unless expect_new_days: all.
    expect_new_within: Silence | None = None
    expect_new_days: Literal["working", "all"] = "working"


# --- sources -------------------------------------------------------------------------------


class _ParliamentHttpConfig(SourceHealth):
    """What every source reading one of Parliament's JSON APIs by date window sets."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    base_url: str = PARLIAMENT_API
    every: PollInterval = timedelta(minutes=15)
    lookback_days: int = Field(default=3, ge=0, le=366)
    page_size: int = Field(default=100, ge=1, le=100)
    timeout: Timeout = timedelta(seconds=30)
    max_concurrency: int = Field(default=2, ge=1, le=8)
    max_per_second: float = Field(default=4.0, gt=0, le=20)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class _ParliamentApiConfig(_ParliamentHttpConfig):
    """What every source reading the Written Questions & Statements API sets."""

    houses: tuple[Literal["Commons", "Lords"], ...] = ("Commons", "Lords")


class ParliamentSourceConfig(_ParliamentApiConfig):
    """The UK Parliament Written Questions API."""

    kind: Literal["parliament_written_questions"]
    # Which list windows to poll; "tabled" finds new questions before they are answered.
    windows: tuple[Literal["answered", "corrected", "tabled"], ...] = (
        "answered",
        "corrected",
        "tabled",
    )
    # Once a day, the details of answers given in the last ``recheck_days`` are read again
    # (at most ``recheck_limit``), to find an answer edited past what the listing shows
    # without being flagged as a correction. 0 days: never.
    recheck_days: int = Field(default=7, ge=0, le=60)
    recheck_limit: int = Field(default=100, ge=1, le=1000)


class StatementsSourceConfig(_ParliamentApiConfig):
    """Written ministerial statements, from the same API (listed by the day they were made)."""

    kind: Literal["parliament_written_statements"]


class HansardSourceConfig(_ParliamentApiConfig):
    """Spoken and written contributions from the Hansard API's search, by sitting date."""

    kind: Literal["hansard"]
    base_url: str = HANSARD_API
    contributions: tuple[Literal["Spoken", "Written"], ...] = ("Spoken", "Written")


class CommitteePublicationsSourceConfig(_ParliamentHttpConfig):
    """Committee publications (reports, responses, letters) from the Committees API."""

    kind: Literal["committee_publications"]
    base_url: str = COMMITTEES_API
    # Which committees' publications; houses is applied to each publication's committee.
    houses: tuple[Literal["Commons", "Lords", "Joint"], ...] = ("Commons", "Lords", "Joint")
    committees: tuple[Annotated[int, Field(ge=1)], ...] = ()  # ids; () every committee
    publication_types: tuple[Annotated[int, Field(ge=1)], ...] = ()  # type ids; () every type


GOV_UK_HOST = "www.gov.uk"


class FeedSourceConfig(SourceHealth):
    """An RSS or Atom feed (``watcher.sources.feed``)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["feed"]
    url: str
    every: PollInterval = timedelta(minutes=15)
    # The first poll alerts the entries dated within this many days; older ones are stored.
    lookback_days: int = Field(default=3, ge=0, le=366)
    timeout: Timeout = timedelta(seconds=30)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)
    # The line digests carry for this feed's entries; None: GOV.UK's Open Government Licence
    # for www.gov.uk feeds, else nothing. "" says nothing even for GOV.UK.
    licence: str | None = None
    # GOV.UK's finder feeds carry a summary only: read each new or changed www.gov.uk entry's
    # body from the Content API (``content_api``) as its ``content``.
    fetch_content: bool = False
    content_api: str = "https://www.gov.uk/api/content"

    @field_validator("url", "content_api")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", v, re.IGNORECASE):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @property
    def licence_line(self) -> str:
        """The licence line this feed's digests carry (``licence``, or the default)."""
        if self.licence is not None:
            return self.licence
        host = re.sub(r"^https?://([^/?#:]+).*$", r"\1", self.url, flags=re.IGNORECASE)
        return OPEN_GOVERNMENT_LICENCE if host.lower() == GOV_UK_HOST else ""


SCOTTISH_PARLIAMENT_DATA = "https://data.parliament.scot"
NI_ASSEMBLY_DATA = "https://data.niassembly.gov.uk"


class _DevolvedQuestionsConfig(SourceHealth):
    """What both devolved written-question sources set (``watcher.sources.scottish``, ``.ni``)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # Questions listed are those lodged or answered within this many days before today.
    lookback_days: int = Field(default=3, ge=0, le=366)
    timeout: Timeout = timedelta(seconds=30)  # each socket operation
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=2)

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class ScottishQuestionsSourceConfig(_DevolvedQuestionsConfig):
    """Scottish Parliament written questions: one JSON file per year, read whole."""

    kind: Literal["scottish_parliament_questions"]
    base_url: str = SCOTTISH_PARLIAMENT_DATA
    # A year's file is tens of MB and has no date filter: hourly, conditionally, is plenty
    # for answers that are published once a day.
    every: PollInterval = timedelta(hours=1)
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    deadline: Timeout = timedelta(minutes=5)  # one year's file, arriving whole
    # A window starting within this many days of 1 January reads the year before too: questions
    # lodged in December are answered in January, and stay in their lodging year's file.
    previous_year_days: int = Field(default=60, ge=0, le=366)


class NiQuestionsSourceConfig(_DevolvedQuestionsConfig):
    """Northern Ireland Assembly written questions answered in the window (AIMS JSON)."""

    kind: Literal["ni_assembly_questions"]
    base_url: str = NI_ASSEMBLY_DATA
    every: PollInterval = timedelta(minutes=30)
    max_concurrency: int = Field(default=2, ge=1, le=8)
    max_per_second: float = Field(default=2.0, gt=0, le=20)


SourceConfig = Annotated[
    ParliamentSourceConfig
    | StatementsSourceConfig
    | FeedSourceConfig
    | HansardSourceConfig
    | CommitteePublicationsSourceConfig
    | ScottishQuestionsSourceConfig
    | NiQuestionsSourceConfig,
    Field(discriminator="kind"),
]
