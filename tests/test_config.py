"""Config parsing: the documented example loads, defaults resolve, and every kind of mistake
is reported with the file, the key path and the problem."""

from __future__ import annotations

import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest

from watcher.config import BUILTIN_CHANNEL, load, parse, read_text
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
    assert [s.kind for s in config.sources] == [
        "parliament_written_questions",
        "parliament_written_statements",
        "hansard",
        "committee_publications",
        "scottish_parliament_questions",
        "ni_assembly_questions",
        "feed",
    ]
    assert config.rule("send-workforce").events is None  # each kind's defaults
    assert config.rule("educational-psychologists").events == (
        EventType.TABLED,
        EventType.HOLDING,
        EventType.ANSWERED,
        EventType.CORRECTED,
    )
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
    assert config.store_url == "sqlite:///data/watcher.db"  # data_dir defaults to ./data


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


ISSUE_CHANNELS = """
allow_private_networks: false
channels:
  - {id: email, kind: smtp, host: ${SMTP_HOST}, from: "Watcher <alerts@example.org>"}
  - {id: team-slack, kind: slack, url: ${SLACK_WEBHOOK_URL}}
  - {id: hooks, kind: webhook, url: https://example.org/hooks/watcher, secret: ${WEBHOOK_SECRET}}
  - {id: other, kind: apprise, url: "${APPRISE_URL:-ntfy://ntfy.sh/t}"}
rules:
  - {id: r, query: workforce}
subscriptions:
  - {rules: [r], channel: team-slack, digest: immediate}
  - {rules: [r], channel: email, to: [policy@example.org], digest: daily 07:30}
"""
ISSUE_ENV = {
    "SMTP_HOST": "mail.example.org",
    # A value that is YAML syntax stays one value: it is put in after the file is parsed.
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x}, {id: evil",
    "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def test_environment_variables_may_stand_in_flow_mappings() -> None:
    config = parse(ISSUE_CHANNELS, "x.yaml", ISSUE_ENV)
    hosts = {c.id: getattr(c, "host", None) or getattr(c, "url", None) for c in config.channels}
    assert hosts == {
        "email": "mail.example.org",
        "team-slack": "https://hooks.slack.com/services/T0/B0/x}, {id: evil",
        "hooks": "https://example.org/hooks/watcher",
        "other": "ntfy://ntfy.sh/t",
    }
    assert [s.to for s in config.resolved_subscriptions()] == [(), ("policy@example.org",)]
    missing = {k: v for k, v in ISSUE_ENV.items() if k != "WEBHOOK_SECRET"}
    with pytest.raises(ConfigError) as caught:
        parse(ISSUE_CHANNELS, "x.yaml", missing)
    assert caught.value.problems == [
        ("channels[2].secret", "environment variable WEBHOOK_SECRET is not set")
    ]


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


# --- what the first five minutes trip over --------------------------------------------------


def source_with(line: str) -> str:
    return MINIMAL.replace(
        "kind: parliament_written_questions", f"kind: parliament_written_questions\n    {line}"
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("every: 15", "15 has no unit (write 15s, 15m, 15h or 15d)"),
        ("every: '15'", "'15' has no unit (write 15s, 15m, 15h or 15d)"),
        (
            "every: 0s",
            "too short: sources are polled at most once a minute; write 1m or more (got '0s')",
        ),
        ("every: 30s", "too short"),
        ("timeout: 0s", "a timeout must be positive"),
        ("backoff: 2", "2 has no unit"),
    ],
)
def test_durations_need_a_unit_and_polls_at_least_a_minute_apart(line: str, fragment: str) -> None:
    key = line.split(":")[0]
    found = problems(source_with(line))
    assert any(p == f"sources[0].{key}" and fragment in m for p, m in found), found


def test_a_minute_and_units_are_accepted() -> None:
    config = parse(source_with("every: 1m\n    backoff: 250ms"), "x.yaml", {})
    assert config.sources[0].every == timedelta(minutes=1)
    assert config.sources[0].backoff == timedelta(milliseconds=250)


def test_a_key_written_twice_names_both_lines() -> None:
    text = "timezone: Europe/London\n" + source_with("every: 15m\n    every: 1h")
    [(path, msg)] = problems(text)
    # MINIMAL starts with a blank line: the source's keys are on lines 6 and 7.
    assert path == ""
    assert msg.startswith("line 7: key 'every' is written twice in one mapping (first on line 6)")


def test_merge_keys_may_override_what_they_merge() -> None:
    text = MINIMAL
    text = text.replace(
        "  - rules: [r]\n", "  - <<: {digest: daily 07:30, rules: [x]}\n    rules: [r]\n"
    )
    config = parse(text, "x.yaml", {})
    assert str(config.subscriptions[0].digest) == "daily 07:30"
    assert config.subscriptions[0].rules == ("r",)


def test_an_empty_recipient_list_is_an_error() -> None:
    found = problems(MINIMAL.replace("rules: [r]", "rules: [r]\n    to: []"))
    assert ("subscriptions[0].to", "[] lists no recipients (give at least one address)") in found


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "{}\n"])
def test_an_empty_file_has_nothing_to_watch(text: str) -> None:
    [(path, msg)] = problems(text)
    assert path == ""
    assert msg.startswith("nothing to watch")


def test_an_unknown_key_suggests_the_nearest_known_one() -> None:
    assert ("sources[0].evry", "unknown key 'evry' (did you mean 'every'?)") in problems(
        source_with("evry: 5m")
    )
    assert ("subscriptions[0].digets", "unknown key 'digets' (did you mean 'digest'?)") in problems(
        MINIMAL.replace("rules: [r]", "rules: [r]\n    digets: daily 07:30")
    )
    channel = "channels:\n  - id: e\n    kind: smtp\n    host: h\n    from: a@b\n    prot: 25\n"
    assert ("channels[0].prot", "unknown key 'prot' (did you mean 'port'?)") in problems(
        MINIMAL + channel
    )
    [(path, msg)] = problems(MINIMAL + "colour: blue\n")
    assert path == "colour"
    assert msg.startswith(
        "unknown key 'colour' (known keys: allow_private_networks, channels, contact, data_dir"
    )


def test_bad_values_are_echoed_but_never_values_from_the_environment() -> None:
    channel = "channels:\n  - id: e\n    kind: smtp\n    host: h\n    from: a@b\n"
    found = problems(MINIMAL + channel + "    port: twenty-five\n    security: tls\n")
    assert any(p == "channels[0].port" and "(got 'twenty-five')" in m for p, m in found), found
    assert any(p == "channels[0].security" and "(got 'tls')" in m for p, m in found), found
    found = problems(MINIMAL + channel + "    port: ${SMTP_PORT}\n", {"SMTP_PORT": "s3cret-ish"})
    [msg] = [m for p, m in found if p == "channels[0].port"]
    assert "(from ${SMTP_PORT})" in msg
    assert "s3cret-ish" not in str(found)


def test_a_file_that_is_not_utf8_names_the_byte_and_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("contact: José\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}: not UTF-8 text: byte 0xe9 at offset 12 (line 1) cannot be decoded; "
        "save the file as UTF-8"
    )


def test_warnings_for_a_config_that_would_do_nothing_useful() -> None:
    loaded = read_text("timezone: Europe/London\n", "x.yaml", {})
    assert [str(w) for w in loaded.warnings] == [
        "sources: none configured: nothing will be polled",
        "subscriptions: none configured: matches are stored, nobody is sent",
    ]
    unused = MINIMAL.replace("rules:\n", "rules:\n  - id: spare\n    query: teachers\n")
    assert [str(w) for w in read_text(unused, "x.yaml", {}).warnings] == [
        "rules[0]: no subscription uses rule 'spare': its matches are sent to nobody"
    ]
    assert read_text(MINIMAL, "x.yaml", {}).warnings == ()


@pytest.mark.parametrize(
    ("query", "warned"),
    [
        ('"SEND workforce"', "SEND workforce"),  # YAML ate the quotes
        ('"special educational needs OR SEN"', "special educational needs"),
        ("'\"SEND workforce\"'", None),  # single quotes keep the phrase
        ("SEND workforce", None),  # plain scalar: written without quotes on purpose
        ('"teachers OR lecturers"', None),  # no two words side by side
        ('"SEND NEAR/5 workforce"', None),
        ('"\\"SEND workforce\\" AND pay"', None),  # escaped quotes survive
    ],
)
def test_a_double_quoted_query_that_lost_its_phrase_is_warned_about(
    query: str, warned: str | None
) -> None:
    text = MINIMAL.replace("query: '\"SEND workforce\"'", f"query: {query}")
    warnings = [str(w) for w in read_text(text, "x.yaml", {}).warnings]
    if warned is None:
        assert warnings == []
    else:
        assert warnings == [
            f"rules[0].query: YAML removed the quotes, so {warned} matches "
            f"{'each word' if len(warned.split()) > 2 else 'both words'} anywhere in an item: "
            f"write '\"{warned}\"' in single quotes for the phrase"
        ]


def test_a_relative_templates_folder_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "mine").mkdir(parents=True)
    path = tmp_path / "conf" / "watcher.yaml"
    path.write_text(MINIMAL + "templates: mine\n")
    assert load(path, env={}).templates == str(tmp_path / "conf" / "mine")
    path.write_text(MINIMAL + "templates: missing\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    [(key, msg)] = info.value.problems
    assert key == "templates"
    assert msg.startswith(f"'missing' does not exist (looked for {tmp_path}/conf/missing;")


def test_the_example_works_in_the_container_unchanged() -> None:
    # The image sets WATCHER_DATA_DIR=/data and WORKDIR /data: the store must land in /data,
    # not in /data/data.
    config = load(
        ROOT / "config" / "watcher.example.yaml", env={**ENV, "WATCHER_DATA_DIR": "/data"}
    )
    assert config.data_dir == "/data"
    assert config.store_url == "sqlite:////data/watcher.db"
