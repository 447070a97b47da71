"""``watcher check-config`` as an operator's preflight, through the real command: what it prints,
and every broken input it must catch before the service meets it."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from watcher.store.migrations import latest_version
from watcher.testing.smtp import SmtpTestServer

BASE = """\
store: sqlite:///{tmp}/store/watcher.db
data_dir: {tmp}/data
contact: ops@example.org
sources:
  - id: written-questions
    kind: parliament_written_questions
    every: 15m
    lookback_days: 3
channels:
  - id: email
    kind: smtp
    host: 127.0.0.1
    port: {port}
    security: none
    from: "Watcher <alerts@example.org>"
  - id: outbox
    kind: files
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - id: policy
    rules: [send-workforce]
    channel: email
    to: [policy@example.org]
  - id: archive
    rules: [send-workforce]
    channel: outbox
    digest: daily 07:30
"""


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def check(
    tmp_path: Path, text: str, *args: str, port: int = 25
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "watcher.yaml"
    path.write_text(text.format(tmp=tmp_path, port=port))
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "check-config", "--config", str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")},
    )
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_summary_says_what_is_set_up_as_written(tmp_path: Path) -> None:
    result = check(tmp_path, BASE)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    new = f"(new: {latest_version()} migration(s)"
    assert f"store: sqlite:///{tmp_path}/store/watcher.db {new}" in out
    assert f"store folder: {tmp_path}/store (will be created)" in out
    assert f"data_dir: {tmp_path}/data (will be created)" in out
    assert "contact: ops@example.org" in out
    assert "templates: built-in (compiled, sample digest rendered)" in out
    assert "every 15m, lookback 3 days" in out
    assert "channel email: smtp 127.0.0.1:25 none, no login" in out
    assert f"channel outbox: files, outbox {tmp_path}/data/outbox (will be created)" in out
    assert "subscription archive: rules=send-workforce channel=outbox" in out
    assert out.rstrip().endswith("config OK")
    # A preflight changes nothing: no store file, no folders.
    assert not (tmp_path / "store").exists()
    assert not (tmp_path / "data").exists()


def test_the_summary_names_operators_and_each_sources_health_settings(tmp_path: Path) -> None:
    text = (
        BASE.replace(
            "    lookback_days: 3\n",
            "    lookback_days: 3\n    expect_new_within: 36h\n    failure_threshold: 5\n",
        )
        + "operators:\n  - channel: email\n    to: ops@example.org\n"
    )
    result = check(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "operator email:ops@example.org: channel=email to=ops@example.org" in result.stdout
    assert (
        "health written-questions: alert after 5 failed polls, 25% unparsable, "
        "silent after 36h (working days)"
    ) in result.stdout


def test_an_existing_store_reports_its_schema(tmp_path: Path) -> None:
    from watcher.store import open_store

    (tmp_path / "store").mkdir()
    store = open_store(f"sqlite:///{tmp_path}/store/watcher.db")
    store.migrate()
    store.close()
    result = check(tmp_path, BASE)
    assert result.returncode == 0, result.stdout
    assert f"(reachable, schema version {latest_version()}, up to date)" in result.stdout
    # A newer release migrated it further: this one must not run on it unawares.
    with sqlite3.connect(tmp_path / "store" / "watcher.db") as db:
        db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) "
            "VALUES (99, 'from the future', '2030-01-01 00:00:00')"
        )
    db.close()
    result = check(tmp_path, BASE)
    assert result.returncode == 1
    assert "schema version(s) 99 come from a newer release of watcher" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("every: 15m", "every: 0s", "sources[0].every: too short"),
        ("every: 15m", "every: 15", "sources[0].every: 15 has no unit"),
        ("lookback_days: 3", "lookback_days: 3\n    every: 1h", "key 'every' is written twice"),
        ("to: [policy@example.org]", "to: []", "subscriptions[0].to: [] lists no recipients"),
        ("contact: ops@example.org", "templates: nowhere", "templates: 'nowhere' does not exist"),
        ("    every: 15m", "    evry: 15m", "unknown key 'evry' (did you mean 'every'?)"),
    ],
)
def test_broken_inputs_are_exit_2_naming_the_file_and_the_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    result = check(tmp_path, BASE.replace(old, new, 1))
    assert result.returncode == 2, result.stdout
    assert f"{tmp_path}/watcher.yaml: " in result.stderr
    assert expected in result.stderr


def test_an_empty_config_has_nothing_to_watch(tmp_path: Path) -> None:
    result = check(tmp_path, "# just a comment\n")
    assert result.returncode == 2
    assert "nothing to watch" in result.stderr


def test_a_broken_template_fails_the_preflight_not_the_first_send(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.html.j2").write_text("<p>{{ items|length }</p>\n")
    result = check(tmp_path, BASE.replace("contact:", "templates: templates\ncontact:"))
    assert result.returncode == 2
    assert f"{folder}/digest.html.j2: line 1: template error:" in result.stderr
    # Compiles, but names something a digest does not have: only rendering finds it.
    (folder / "digest.html.j2").write_text("<p>{{ digest.nonsense.deeper }}</p>\n")
    result = check(tmp_path, BASE.replace("contact:", "templates: templates\ncontact:"))
    assert result.returncode == 2
    assert "nonsense" in result.stderr
    (folder / "digest.html.j2").write_text("<p>{{ items|length }} items</p>\n")
    result = check(tmp_path, BASE.replace("contact:", "templates: templates\ncontact:"))
    assert result.returncode == 0, result.stderr
    assert f"templates: {folder} (compiled, sample digest rendered; replaces digest.html.j2)" in (
        result.stdout
    )


def test_an_unwritable_data_dir_names_the_path_and_the_reason(tmp_path: Path) -> None:
    # Tests run as root, for whom permission bits do not stop a write: a folder under a
    # regular file cannot be created by anyone.
    (tmp_path / "afile").write_text("")
    text = BASE.replace("data_dir: {tmp}/data", "data_dir: {tmp}/afile/data")
    result = check(tmp_path, text)
    assert result.returncode == 1
    assert f"{tmp_path}/afile/data: cannot be created: {tmp_path}/afile is not a folder" in (
        result.stdout
    )
    assert "preflight FAILED" in result.stdout
    run = run_once(tmp_path / "watcher.yaml")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert f"data_dir {tmp_path}/afile/data: cannot be created: Not a directory" in run.stderr


def test_an_unreachable_postgresql_names_the_store_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://watcher:hunter2@127.0.0.1:{closed_port()}/test"
    text = BASE.replace("store: sqlite:///{tmp}/store/watcher.db", f"store: {url}")
    result = check(tmp_path, text)
    assert result.returncode == 1
    redacted = url.replace("hunter2", "***")
    assert f"store {redacted}: " in result.stdout
    assert "Connection refused" in result.stdout
    run = run_once(tmp_path / "watcher.yaml")
    assert run.returncode == 1
    assert f"store {redacted}: " in run.stderr
    for output in (result.stdout, result.stderr, run.stdout, run.stderr):
        assert "hunter2" not in output
        assert "Traceback" not in output


def test_warnings_are_printed_and_pass(tmp_path: Path) -> None:
    text = BASE.replace("query: '\"SEND workforce\"'", 'query: "SEND workforce"').replace(
        "rules:\n", "rules:\n  - id: spare\n    query: teachers\n", 1
    )
    result = check(tmp_path, text)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "watcher.yaml"
    assert (
        f"warning: {path}: rules[0]: no subscription uses rule 'spare': its matches are sent "
        "to nobody" in result.stdout
    )
    assert (
        f"warning: {path}: rules[1].query: YAML removed the quotes, so SEND workforce matches "
        "both words anywhere in an item: write '\"SEND workforce\"' in single quotes"
        in result.stdout
    )
    assert result.stdout.rstrip().endswith("config OK (2 warnings)")


def test_send_test_through_smtp_reports_the_servers_answer(
    tmp_path: Path, smtp: SmtpTestServer
) -> None:
    result = check(tmp_path, BASE, "--send-test", "policy", port=smtp.port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"test message for policy via email to policy@example.org: 127.0.0.1:{smtp.port} "
        "accepted it for 1 recipient(s): 250 Message accepted for delivery" in result.stdout
    )
    [received] = smtp.received
    assert received.rcpt_tos == ("policy@example.org",)
    assert received.message["Subject"] == "[watcher] test message for policy"
    assert received.message["From"] == "Watcher <alerts@example.org>"


def test_send_test_reports_a_refusal_as_a_failure(tmp_path: Path, smtp: SmtpTestServer) -> None:
    smtp.refuse(times=1, code=554, message="5.7.1 Relay access denied")
    result = check(tmp_path, BASE, "--send-test", "policy", port=smtp.port)
    assert result.returncode == 1
    assert "test message not sent: channel email: server said 554 5.7.1 Relay access denied" in (
        result.stdout
    )


def test_send_test_through_the_files_channel_says_where(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, "--send-test", "archive")
    assert result.returncode == 0, result.stdout + result.stderr
    [written] = (tmp_path / "data" / "outbox").glob("*.eml")
    assert f"test message for archive via outbox to subscriber@localhost: wrote {written}" in (
        result.stdout
    )
    message = BytesParser(policy=policy.default).parsebytes(written.read_bytes())
    assert message["Subject"] == "[watcher] test message for archive"


def test_send_test_with_an_unknown_subscription_is_exit_2(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, "--send-test", "polcy")
    assert result.returncode == 2
    assert "no subscription 'polcy'" in result.stderr
    assert "did you mean 'policy'?" in result.stderr
