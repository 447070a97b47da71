"""List-Unsubscribe (RFC 2369) and one-click (RFC 8058): the headers, the token that names a
subscription in the link, and the config that enables it (``public_url``, ``secret_key``); and
check-config's warning about a password sent in clear text."""

from __future__ import annotations

import os
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from watcher import logs, unsubscribe
from watcher.config import parse, read_text
from watcher.errors import ConfigError
from watcher.testing.smtp import SmtpTestServer

KEY = "k" * 40
OTHER_KEY = "j" * 40
SUB = "email:send-workforce:policy@example.org"


def test_the_token_names_the_subscription_only_for_the_holder_of_the_key() -> None:
    t = unsubscribe.token(KEY, SUB)
    assert t == unsubscribe.token(KEY, SUB)  # the same link in every digest
    assert t != unsubscribe.token(KEY, SUB + "x")
    assert t != unsubscribe.token(OTHER_KEY, SUB)
    assert len(t) >= 43
    assert t.replace("-", "").replace("_", "").isalnum()
    assert "policy" not in t
    assert "example" not in t
    ids = ["a", SUB, "b"]
    assert unsubscribe.subscription_for(KEY, t, ids) == SUB
    assert unsubscribe.subscription_for(OTHER_KEY, t, ids) is None
    assert unsubscribe.subscription_for(KEY, t[:-1] + "A", ids) is None


def uris(header: str) -> list[str]:
    return [part.strip().removeprefix("<").removesuffix(">") for part in header.split(",")]


def test_without_public_url_only_the_mailto_to_the_channels_address() -> None:
    headers = unsubscribe.headers(SUB, "Parliament Watcher <alerts+watch@example.org>")
    assert set(headers) == {"List-Unsubscribe"}  # no one-click without an https link
    [mailto] = uris(headers["List-Unsubscribe"])
    parts = urlsplit(mailto)
    assert parts.scheme == "mailto"
    assert parts.path == "alerts+watch@example.org"
    assert parse_qs(parts.query) == {"subject": [f"unsubscribe {SUB}"]}


def test_with_an_https_public_url_a_one_click_link_comes_first() -> None:
    headers = unsubscribe.headers(SUB, "alerts@example.org", "https://watch.example.org/w/", KEY)
    link, mailto = uris(headers["List-Unsubscribe"])
    assert link == f"https://watch.example.org/w/unsubscribe/{unsubscribe.token(KEY, SUB)}"
    assert mailto.startswith("mailto:alerts@example.org?subject=")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_http_public_url_gives_a_link_but_no_one_click() -> None:
    headers = unsubscribe.headers(SUB, "alerts@example.org", "http://watch.internal", KEY)
    assert uris(headers["List-Unsubscribe"])[0].startswith("http://watch.internal/unsubscribe/")
    assert "List-Unsubscribe-Post" not in headers


CONFIG = """
public_url: https://watch.example.org
{secret}
channels:
  - id: mail
    kind: smtp
    host: smtp.example.org
    from: "Parliament Watcher <alerts@example.org>"
    {unsubscribe}
  - id: files
    kind: files
    from: "Watcher <files@example.org>"
rules:
  - id: r
    query: teachers
subscriptions:
  - id: policy
    rules: [r]
    channel: mail
    to: [policy@example.org]
  - id: archive
    rules: [r]
    channel: files
"""


def config_text(secret: str = "secret_key: ${WATCHER_SECRET_KEY}", unsub: str = "") -> str:
    return CONFIG.format(secret=secret, unsubscribe=unsub)


def test_each_email_channel_says_where_its_subscribers_unsubscribe() -> None:
    config = parse(
        config_text(unsub="unsubscribe: unsubscribe@example.org"),
        "w.yaml",
        {"WATCHER_SECRET_KEY": KEY},
    )
    by_id = {s.id: s for s in config.resolved_subscriptions()}
    mail = unsubscribe.email_headers(config, by_id["policy"])
    files = unsubscribe.email_headers(config, by_id["archive"])
    assert uris(mail["List-Unsubscribe"])[1].startswith("mailto:unsubscribe@example.org?")
    assert uris(files["List-Unsubscribe"])[1].startswith("mailto:files@example.org?")
    assert uris(mail["List-Unsubscribe"])[0].endswith(unsubscribe.token(KEY, "policy"))
    assert uris(files["List-Unsubscribe"])[0].endswith(unsubscribe.token(KEY, "archive"))


def test_public_url_without_secret_key_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(config_text(secret=""), "w.yaml", {})
    [(path, problem)] = caught.value.problems
    assert path == "secret_key"
    assert "required when public_url is set" in problem


def test_a_short_secret_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(config_text(), "w.yaml", {"WATCHER_SECRET_KEY": "hunter2hunter2"})
    [(path, problem)] = caught.value.problems
    assert path == "secret_key"
    assert "at least 32" in problem
    assert "hunter2" not in str(caught.value)
    assert "${WATCHER_SECRET_KEY}" in problem  # where it came from, not what it is


def test_the_secret_key_is_kept_out_of_logs() -> None:
    secret = "s" * 20 + "unique-unsubscribe-key"
    config = parse(config_text(), "w.yaml", {"WATCHER_SECRET_KEY": secret})
    assert secret not in repr(config)
    assert secret not in logs.redact(f"event=x value={secret}")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"store: sqlite:///{tmp_path}/w.db\ndata_dir: {tmp_path}/data\n{text}")
    return path


def check_config(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    return subprocess.run(
        [sys.executable, "-m", "watcher", "check-config", "--config", str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=clean | env,
    )


def test_a_public_url_that_is_not_https_is_warned_about() -> None:
    text = config_text().replace("https://watch.example.org", "http://watch.internal")
    loaded = read_text(text, "w.yaml", {"WATCHER_SECRET_KEY": KEY})
    [warning] = [str(w) for w in loaded.warnings if w.path == "public_url"]
    assert "is not https" in warning
    assert "one-click" in warning
    https = read_text(config_text(), "w.yaml", {"WATCHER_SECRET_KEY": KEY})
    assert [w for w in https.warnings if w.path == "public_url"] == []


def test_check_config_exits_2_naming_secret_key(tmp_path: Path) -> None:
    result = check_config(write(tmp_path, config_text()))
    assert result.returncode == 2
    assert "secret_key: environment variable WATCHER_SECRET_KEY is not set" in result.stderr
    result = check_config(write(tmp_path, config_text(secret="")))
    assert result.returncode == 2
    assert "secret_key: required when public_url is set" in result.stderr
    assert "Traceback" not in result.stderr


# --- security: none with a password -----------------------------------------------------------

CLEAR = """
channels:
  - id: mail
    kind: smtp
    host: '{host}'
    port: 2525
    security: none
    username: watcher
    password: ${{SMTP_PASSWORD}}
    from: alerts@example.org
rules:
  - id: r
    query: teachers
subscriptions:
  - rules: [r]
    to: [policy@example.org]
"""


def warnings_for(host: str) -> list[str]:
    loaded = read_text(CLEAR.format(host=host), "w.yaml", {"SMTP_PASSWORD": "pa55-w0rd-in-clear"})
    return [str(w) for w in loaded.warnings if w.path.startswith("channels")]


def test_a_password_sent_in_clear_across_the_network_is_warned_about() -> None:
    [warning] = warnings_for("relay.example.org")
    assert warning.startswith("channels[0].security: none with a username and password")
    assert "relay.example.org in clear text" in warning
    assert "pa55-w0rd" not in warning


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.1.1", "::1"])
def test_a_relay_on_this_machine_is_not_warned_about(host: str) -> None:
    assert warnings_for(host) == []


def test_check_config_prints_the_clear_text_warning_and_passes(tmp_path: Path) -> None:
    path = write(tmp_path, CLEAR.format(host="relay.example.org") + "sources: []\n")
    result = check_config(path, SMTP_PASSWORD="pa55-w0rd-in-clear")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"warning: {path}: channels[0].security: none with a username and password: the "
        "password crosses the network to relay.example.org in clear text" in result.stdout
    )
    assert "pa55-w0rd" not in result.stdout + result.stderr


def test_the_test_message_carries_no_list_unsubscribe(tmp_path: Path) -> None:
    with SmtpTestServer(users={"watcher": "pa55-w0rd-in-clear"}) as smtp:
        text = CLEAR.format(host="127.0.0.1").replace("2525", str(smtp.port))
        path = write(tmp_path, text.replace("  - rules: [r]", "  - id: policy\n    rules: [r]"))
        result = check_config(path, "--send-test", "policy", SMTP_PASSWORD="pa55-w0rd-in-clear")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "channels[0].security" not in result.stdout  # the relay is on this machine
        [received] = smtp.received
    parsed = BytesParser(policy=policy.default).parsebytes(received.raw)
    assert parsed["Subject"] == "[watcher] test message for policy"
    assert parsed["List-Unsubscribe"] is None  # nobody subscribed to a test message
