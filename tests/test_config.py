"""Config parsing: the documented example loads, defaults resolve, and every kind of mistake
is reported with the file, the key path and the problem."""

from __future__ import annotations

import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest

from watcher.config import BUILTIN_CHANNEL, load, parse
from watcher.errors import ConfigError
from watcher.model import EventType

ROOT = Path(__file__).resolve().parents[1]
ENV = {"SMTP_HOST": "smtp.example.org", "SMTP_USER": "u", "SMTP_PASSWORD": "p"}

MINIMAL = """
sources:
  - id: wq
    kind: parliament_written_questions
rules:
  - id: r
    query: '"SEND workforce"'
subscriptions:
  - rules: [r]
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse(text, "watcher.yaml", env or {})
    assert str(info.value).startswith("watcher.yaml: ")
    return info.value.problems


def test_example_config_loads_with_everything_it_documents() -> None:
    config = load(ROOT / "config" / "watcher.example.yaml", env=ENV)
    source = config.sources[0]
    assert source.every == timedelta(minutes=15)
    assert source.lookback_days == 3
    assert config.channels[0].kind == "smtp"
    assert config.channels[0].host == "smtp.example.org"
    assert "special educational needs" in config.synonyms["SEND"]
    rule = config.rule("send-workforce")
    assert rule.events == (EventType.ANSWERED, EventType.CORRECTED)
    subs = config.resolved_subscriptions()
    assert subs[0].channel == "email"
    assert subs[0].to == ("policy@example.org",)
    assert str(subs[1].digest) == "weekly mon 07:30"
    assert subs[1].digest.at == time(7, 30)
    assert subs[1].id == "weekly-psychologists"


def test_shipped_default_config_needs_no_environment() -> None:
    config = load(ROOT / "config" / "watcher.yaml", env={})
    assert [c.id for c in config.all_channels()] == [BUILTIN_CHANNEL]
    assert config.resolved_subscriptions()[0].channel == BUILTIN_CHANNEL
    assert config.store_url == "sqlite:///data/watcher.db"


def test_minimal_config_gets_defaults() -> None:
    config = parse(MINIMAL, "x.yaml", {})
    assert config.sources[0].base_url == "https://questions-statements-api.parliament.uk"
    assert config.sources[0].windows == ("answered", "corrected", "tabled")
    assert str(config.resolved_subscriptions()[0].digest) == "immediate"
    assert config.timezone == "Europe/London"


def test_data_dir_comes_from_the_environment_when_not_in_the_file() -> None:
    config = parse(MINIMAL, "x.yaml", {"WATCHER_DATA_DIR": "/data"})
    assert config.store_url == "sqlite:////data/watcher.db"


def test_user_agent_names_the_project_and_the_contact() -> None:
    config = parse("contact: ops@example.org\n" + MINIMAL, "x.yaml", {})
    assert config.user_agent.startswith("watcher/")
    assert "ops@example.org" in config.user_agent


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        (MINIMAL + "colour: blue\n", "colour", "unknown key"),
        (
            MINIMAL.replace(
                "kind: parliament_written_questions",
                "kind: parliament_written_questions\n    evry: 5m",
            ),
            "sources[0].evry",
            "unknown key",
        ),
        (
            MINIMAL.replace(
                "kind: parliament_written_questions",
                "kind: parliament_written_questions\n    every: soon",
            ),
            "sources[0].every",
            "not a duration",
        ),
        (MINIMAL.replace("kind: parliament_written_questions", "kind: rss"), "sources[0]", "rss"),
        (
            MINIMAL.replace("rules: [r]", "rules: [nope]"),
            "subscriptions[0].rules",
            "no rule has id 'nope'",
        ),
        (
            MINIMAL.replace("rules: [r]", "rules: [r]\n    digest: hourly"),
            "subscriptions[0].digest",
            "not a digest cadence",
        ),
        (
            MINIMAL.replace("rules: [r]", "rules: [r]\n    channel: slack"),
            "subscriptions[0].channel",
            "no channel has id 'slack'",
        ),
        (
            MINIMAL.replace("rules: [r]", "rules: [r]\n    to: not-an-address"),
            "subscriptions[0].to",
            "not an email address",
        ),
        ("timezone: Mars/Olympus\n" + MINIMAL, "timezone", "unknown time zone"),
        (
            MINIMAL.replace("'\"SEND workforce\"'", "'\"SEND workforce'"),
            "rules[0].query",
            "position",
        ),
        (
            MINIMAL + "channels:\n  - id: e\n    kind: smtp\n    host: h\n",
            "channels[0].from",
            "required key is missing",
        ),
        (
            MINIMAL + "channels:\n  - id: e\n    kind: smtp\n    host: h\n    from: a@b\n"
            "    port: 99999\n",
            "channels[0].port",
            "65535",
        ),
    ],
)
def test_mistakes_name_the_key_and_the_problem(text: str, path: str, fragment: str) -> None:
    found = problems(text)
    assert any(p == path and fragment in msg for p, msg in found), found


def test_missing_environment_variable_is_named_with_its_key() -> None:
    text = MINIMAL + "channels:\n  - id: e\n    kind: smtp\n    host: ${SMTP_HOST}\n    from: a@b\n"
    assert ("channels[0].host", "environment variable SMTP_HOST is not set") in problems(text)


def test_environment_default_is_used_when_variable_unset() -> None:
    text = MINIMAL.replace("rules: [r]", "rules: [r]\n    to: a@b") + (
        "channels:\n  - id: e\n    kind: smtp\n    host: ${SMTP_HOST:-localhost}\n    from: a@b\n"
    )
    assert parse(text, "x.yaml", {}).channels[0].host == "localhost"  # type: ignore[union-attr]


def test_smtp_subscription_needs_recipients() -> None:
    text = MINIMAL + "channels:\n  - id: e\n    kind: smtp\n    host: h\n    from: a@b\n"
    assert any(p == "subscriptions[0].to" for p, _ in problems(text))


def test_yaml_syntax_error_gives_the_line() -> None:
    [(_, msg)] = problems("sources: [\n  - id: x\n")
    assert "line" in msg
    assert "not valid YAML" in msg


def test_duplicate_ids_are_errors() -> None:
    text = MINIMAL.replace("rules:\n", "rules:\n  - id: r\n    query: x\n")
    assert any(p == "rules[1].id" and "used twice" in m for p, m in problems(text))


def test_config_is_frozen() -> None:
    config = parse(MINIMAL, "x.yaml", {})
    with pytest.raises(ValueError, match="frozen"):
        config.timezone = "UTC"  # type: ignore[misc]


def test_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load("/nonexistent/watcher.yaml")


def test_check_config_command_exits_2_and_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("lookback_days", "x") + "store: mysql://x\n")
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{bad}: store: 'mysql://x' is not a store URL" in result.stderr


def test_check_config_command_accepts_the_example(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "watcher",
            "--config",
            str(ROOT / "config" / "watcher.example.yaml"),
            "check-config",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**ENV, "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout
