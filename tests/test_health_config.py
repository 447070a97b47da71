"""Config for source health: every kind of source takes the health keys with the same defaults,
operators resolve like subscriptions, and mistakes name the key and the problem."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest

from watcher.config import SourceConfig, SourceHealth, parse
from watcher.errors import ConfigError

SOURCES = """
sources:
  - id: wq
    kind: parliament_written_questions
  - id: wms
    kind: parliament_written_statements
  - id: dfe
    kind: feed
    url: https://www.gov.uk/government/organisations/department-for-education.atom
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse(text, "watcher.yaml", {})
    return info.value.problems


def test_every_source_kind_has_the_health_keys_and_their_defaults() -> None:
    config = parse(SOURCES, "x.yaml", {})
    assert len(config.sources) == 3
    for source in config.sources:
        assert isinstance(source, SourceHealth)
        assert source.failure_threshold == 3
        assert source.expect_new_within is None
        assert source.expect_new_days == "working"
        assert source.parse_error_threshold == 0.25


def test_health_keys_are_read_on_every_kind() -> None:
    text = SOURCES.replace(
        "    kind: feed\n",
        "    kind: feed\n    expect_new_within: 36h\n    expect_new_days: all\n"
        "    failure_threshold: 5\n    parse_error_threshold: 0.5\n",
    ).replace(
        "    kind: parliament_written_statements\n",
        "    kind: parliament_written_statements\n    expect_new_within: 2d\n",
    )
    wq, wms, dfe = parse(text, "x.yaml", {}).sources
    assert wms.expect_new_within == timedelta(days=2)
    assert (dfe.expect_new_within, dfe.expect_new_days) == (timedelta(hours=36), "all")
    assert (dfe.failure_threshold, dfe.parse_error_threshold) == (5, 0.5)
    assert wq.expect_new_within is None


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ("expect_new_within: 36", "expect_new_within", "36 has no unit"),
        ("expect_new_within: 10m", "expect_new_within", "too short"),
        ("expect_new_days: weekdays", "expect_new_days", "'working' or 'all'"),
        ("failure_threshold: 0", "failure_threshold", "greater than or equal to 1"),
        ("parse_error_threshold: 1.5", "parse_error_threshold", "less than 1"),
    ],
)
def test_bad_health_values_name_the_key(line: str, key: str, fragment: str) -> None:
    text = SOURCES.replace(
        "    kind: parliament_written_questions\n",
        f"    kind: parliament_written_questions\n    {line}\n",
    )
    found = problems(text)
    assert any(p == f"sources[0].{key}" and fragment in m for p, m in found), found


def test_operators_resolve_their_channel_and_id() -> None:
    config = parse(SOURCES + "operators:\n  - to: ops@example.org\n  - id: pager\n", "x", {})
    first, second = config.resolved_operators()
    assert (first.channel, first.to, first.id) == (
        "files",
        ("ops@example.org",),
        "files:ops@example.org",
    )
    assert (second.id, second.channel) == ("pager", "files")


SMTP = """
channels:
  - id: email
    kind: smtp
    host: h
    from: a@b
  - id: other
    kind: files
"""


@pytest.mark.parametrize(
    ("operators", "path", "fragment"),
    [
        ("  - channel: email\n", "operators[0].to", "an smtp channel needs recipients"),
        ("  - to: ops@example.org\n", "operators[0].channel", "required when several channels"),
        ("  - channel: nowhere\n", "operators[0].channel", "no channel has id 'nowhere'"),
        ("  - channel: other\n    to: not-an-address\n", "operators[0].to", "not an email"),
        ("  - channel: other\n    to: []\n", "operators[0].to", "lists no recipients"),
        ("  - channel: other\n    rules: [r]\n", "operators[0].rules", ""),
        ("  - id: a\n    channel: other\n  - id: a\n    channel: other\n", "operators[1].id", ""),
    ],
)
def test_operator_mistakes_name_the_key(operators: str, path: str, fragment: str) -> None:
    found = problems(SOURCES + SMTP + "operators:\n" + operators)
    assert any(p == path and fragment in m for p, m in found), found


def test_every_source_config_class_takes_the_health_keys() -> None:
    # A source kind added without the SourceHealth base would still poll, with default
    # health settings its config could not change: caught here.
    union, *_ = get_args(SourceConfig)
    kinds = get_args(union)
    assert len(kinds) >= 3
    assert [k.__name__ for k in kinds if not issubclass(k, SourceHealth)] == []
