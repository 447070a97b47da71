"""Secrets out of what is shown: masked channel URLs, the SecretUrl type, and the registry the
service's log handler redacts from every line, filled when the config is read."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from watcher import logs
from watcher.config import parse

SLACK = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XyZsecretTOKENxyz123456"
TEAMS = (
    "https://prod-00.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SiGnAtUrE0123456789abc"
)


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """The service's own log set-up, at DEBUG, writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.configure("DEBUG")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (SLACK, "https://hooks.slack.com:443/…"),
        (TEAMS, "https://prod-00.westeurope.logic.azure.com:443/…"),
        ("http://user:pw@127.0.0.1:8080/hook?token=x", "http://127.0.0.1:8080/…"),
        ("https://[::1]/x", "https://[::1]:443/…"),
        ("HTTPS://Hooks.Example", "https://hooks.example:443/…"),
        ("slack://TokenA/TokenB/TokenC", "slack://…"),
        ("http://host:notaport/x", "<malformed URL>"),
        ("not a url", "<malformed URL>"),
    ],
)
def test_a_url_is_shown_as_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert logs.masked_url(url) == shown


def test_a_secret_url_shows_itself_masked_everywhere_but_on_request() -> None:
    class Channel(BaseModel):
        url: logs.SecretUrl

    channel = Channel.model_validate({"url": SLACK})
    assert channel.url.get_secret_value() == SLACK
    for shown in (str(channel.url), repr(channel), str(channel.model_dump(mode="json"))):
        assert "XyZsecret" not in shown
        assert "hooks.slack.com:443/…" in shown
    assert channel == Channel(url=logs.SecretUrl(SLACK))


def test_the_secret_parts_of_a_url_are_its_path_query_tokens_and_password() -> None:
    parts = logs.url_secrets(TEAMS)
    assert "SiGnAtUrE0123456789abc" in parts
    assert "/triggers/manual/run" in parts  # decoded as well as written
    assert not any("logic.azure.com" in p for p in parts)
    assert "pw" not in logs.url_secrets("http://user:pw@h/")  # too short to be worth it
    assert "pa55word" in logs.url_secrets("http://user:pa55word@h/")
    assert "TokenA/TokenB/TokenC" in logs.url_secrets("slack://TokenA/TokenB/TokenC")


def test_every_line_the_service_writes_has_registered_secrets_redacted(
    service_log: io.StringIO,
) -> None:
    logs.register_url(SLACK)
    logs.register_secret("hunter2-smtp")
    logs.register_secret("abc")  # too short: would shred every line
    log = logging.getLogger("httpx")
    log.warning("HTTP Request: POST %s %r", SLACK, "pw=hunter2-smtp abc")
    try:
        raise ValueError(f"failed to post to {TEAMS} with hunter2-smtp")
    except ValueError:
        logging.getLogger("watcher.channels").exception("event=send_failed")
    text = service_log.getvalue()
    assert "HTTP Request: POST https://hooks.slack.com*** 'pw=*** abc'" in text
    assert "XyZsecretTOKEN" not in text
    assert "hunter2" not in text
    assert "event=send_failed" in text
    assert "ValueError: failed to post to" in text  # the traceback is kept, redacted


def test_httpx_and_httpcore_are_quiet_in_the_service_log(service_log: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST http://x/secret-path")
    logging.getLogger("httpcore.http11").debug("receive_response_headers.complete")
    logging.getLogger("watcher.test").debug("event=still_heard")
    assert service_log.getvalue().strip().endswith("event=still_heard")
    assert "secret-path" not in service_log.getvalue()


def test_reading_a_config_registers_its_secrets(service_log: io.StringIO) -> None:
    parse(
        """
store: postgresql://watcher:Store-Pa55@db.example/watcher
sources:
  - id: private
    kind: feed
    url: https://feeds.example/private.atom?key=FeedKey-0123
channels:
  - id: mail
    kind: smtp
    host: smtp.example
    username: watcher
    password: Smtp-Pa55word
    from: watcher@example.org
rules:
  - id: r
    query: schools
subscriptions:
  - rules: [r]
    channel: mail
    to: someone@example.org
""",
        "test.yaml",
        {},
    )
    logging.getLogger("watcher.test").warning(
        "event=oops a=%s b=%s c=%s d=%s",
        "Smtp-Pa55word",
        "https://feeds.example/private.atom?key=FeedKey-0123",
        "postgresql://watcher:Store-Pa55@db.example/watcher",
        "smtp.example",
    )
    line = service_log.getvalue()
    for secret in ("Smtp-Pa55word", "FeedKey-0123", "Store-Pa55"):
        assert secret not in line
    assert "https://feeds.example/private.atom?***" in line
    assert "d=smtp.example" in line  # hosts are not secret
