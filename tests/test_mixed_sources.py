"""Questions, statements and a GOV.UK feed in one config, as a policy team would set it up:
``watcher run --once`` in a subprocess against local servers delivers one digest per
subscription holding items of every kind, each linking to its official page, with each licence
line once; a second run delivers nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from watcher.testing.cli import watcher
from watcher.testing.fakestatements import FakeStatementsAPI
from watcher.testing.feeds import FeedServer

FEED = Path(__file__).parent / "data" / "feeds" / "govuk-finder.atom"
QUESTION_LINK = (
    "https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602"
)
STATEMENT_PAGE = "https://questions-statements.parliament.uk/written-statements/detail/"
ENTRY_LINK = "https://www.gov.uk/government/publications/send-workforce-review"
OPL = "Contains Parliamentary information licensed under the Open Parliament Licence v3.0."
OGL = "Contains public sector information licensed under the Open Government Licence v3.0."


@pytest.fixture
def api() -> Iterator[FakeStatementsAPI]:
    with FakeStatementsAPI.with_fixtures() as server:
        yield server


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def messages(outbox: Path) -> dict[str, EmailMessage]:
    out = {}
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        out[str(message["X-Watcher-Subscription"])] = message
    return out


def plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_one_digest_per_subscription_holds_every_kind_with_its_link_and_licence(
    tmp_path: Path, api: FakeStatementsAPI, feeds: FeedServer
) -> None:
    # The feed's first poll alerts what it dates within its lookback: date the SEND entry today.
    today = datetime.now(UTC).replace(microsecond=0).isoformat()
    feeds.publish(
        "/dfe.atom",
        FEED.read_bytes().replace(b"2024-01-15T09:30:00+00:00", today.encode(), 2),
    )
    outbox = tmp_path / "outbox"
    api_knobs = f"""
    base_url: {api.base_url}
    retries: 0
    timeout: 2s
    max_per_second: 20"""
    config = tmp_path / "watcher.yaml"
    config.write_text(f"""
store: sqlite:///{tmp_path}/watcher.db
data_dir: {tmp_path}/data
allow_private_networks: true  # the feed is a local server
sources:
  - id: questions
    kind: parliament_written_questions{api_knobs}
  - id: statements
    kind: parliament_written_statements{api_knobs}
  - id: dfe
    kind: feed
    url: {feeds.url("/dfe.atom")}
    # GOV.UK's feeds get this line by default; this one is served locally.
    licence: "{OGL}"
    retries: 0
    timeout: 2s
channels:
  - id: files
    kind: files
    path: {outbox}
rules:
  - id: dfe-send
    query: '"SEND workforce" department:60'
  - id: govuk-send
    query: '"SEND workforce" source:dfe'
  - id: statements
    query: 'type:statement department:60'
subscriptions:
  - id: policy
    rules: [dfe-send, govuk-send]
    to: policy@example.org
  - id: statements-desk
    rules: [statements]
    to: desk@example.org
""")
    first = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert first.returncode == 0, first.stderr
    sent = messages(outbox)
    assert sorted(sent) == ["policy", "statements-desk"]  # one message per subscription

    policy_text = plain(sent["policy"])
    # A question (the answer that started it), a statement and a GOV.UK entry, each once.
    assert policy_text.count(f"Read it on the Parliament website: {QUESTION_LINK}") == 1
    assert policy_text.count(f"Read it on the Parliament website: {STATEMENT_PAGE}") == 1
    assert policy_text.count(f"Read it on GOV.UK: {ENTRY_LINK}") == 1
    assert "[[SEND workforce]]" in policy_text
    assert policy_text.count(OPL) == 1
    assert policy_text.count(OGL) == 1
    html = sent["policy"].get_body(("html",))
    assert html is not None
    assert 'href="https://www.nationalarchives.gov.uk/doc/open-government-licence' in str(
        html.get_content()
    )

    desk = plain(sent["statements-desk"])
    assert STATEMENT_PAGE in desk
    assert QUESTION_LINK not in desk and ENTRY_LINK not in desk  # noqa: PT018
    assert OGL not in desk

    again = watcher(config, "run", "--once", "--since", "2024-01-08")
    assert again.returncode == 0, again.stderr
    assert len(list(outbox.glob("*.eml"))) == 2
    assert feeds.answers[-1] == ("/dfe.atom", 304)
