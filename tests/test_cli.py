"""The command line as a newcomer meets it: options where they type them, a one-line error and
an exit code for every mistake, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.render import TEMPLATES

CONFIG = """\
store: sqlite:///{tmp}/watcher.db
data_dir: {tmp}/data
sources:
  - id: wq
    kind: parliament_written_questions
    base_url: http://127.0.0.1:9
rules:
  - id: r
    query: '"SEND workforce"'
subscriptions:
  - rules: [r]
"""


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def config_file(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(text.format(tmp=tmp_path))
    return path


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{config}", "check-config"],
        ["check-config", "--config", "{config}"],
        ["--log-level", "debug", "check-config", "--config", "{config}"],
        ["check-config", "--config", "{config}", "--log-level", "warning"],
    ],
)
def test_global_options_go_before_or_after_the_command(tmp_path: Path, args: list[str]) -> None:
    config = config_file(tmp_path)
    result = cli(*(a.format(config=config) for a in args))
    assert result.returncode == 0, result.stderr
    assert f"config: {config}" in result.stdout


def test_run_once_takes_config_after_the_command(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = cli("run", "--once", "--config", str(config))
    no_traceback(result)
    # The source points at a closed port: the poll fails, is reported, and the exit code says so.
    assert result.returncode == 1
    assert "poll wq: listed 0" in result.stdout


def test_a_config_that_is_not_utf8_is_exit_2_with_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "watcher.yaml"
    path.write_bytes(b"contact: caf\xe9\n")
    result = cli("check-config", "--config", str(path))
    no_traceback(result)
    assert result.returncode == 2
    assert f"{path}: not UTF-8 text: byte 0xe9 at offset 12 (line 1)" in result.stderr


def test_a_bad_log_level_is_exit_2(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = cli("check-config", "--config", str(config), env={"WATCHER_LOG_LEVEL": "verbose"})
    no_traceback(result)
    assert result.returncode == 2
    assert "WATCHER_LOG_LEVEL: 'verbose' is not a log level" in result.stderr
    result = cli("--log-level", "loud", "check-config", "--config", str(config))
    no_traceback(result)
    assert result.returncode == 2
    assert "'loud' is not a log level" in result.stderr


def test_output_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    errors = tmp_path / "stderr.txt"
    shell = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -m watcher demo 2>"{errors}" | head -n 2'],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "WATCHER_CONFIG": "/nonexistent"},
    )
    assert shell.returncode == 0
    assert len(shell.stdout.splitlines()) == 2
    assert errors.read_text() == ""


def test_help_is_plain_text() -> None:
    for args in (["--help"], ["run", "--help"], ["check-config", "--help"], ["templates", "-h"]):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert "``" not in result.stdout
    top = cli("--help").stdout
    assert "Exit codes: 0 OK, 1" in top
    assert "--config and --log-level may come before or after the command" in top


def test_a_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = cli("run", "--once", "--since", "last week", "--config", str(config))
    no_traceback(result)
    assert result.returncode == 2
    assert "'last week' is not a date (write YYYY-MM-DD)" in result.stderr


def test_templates_export_writes_the_built_ins_and_keeps_edits(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    result = cli("templates", "export", str(folder))
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.j2"))
    assert written == sorted(TEMPLATES)
    builtin = Path(__file__).resolve().parents[1] / "watcher" / "templates"
    for name in TEMPLATES:
        assert (folder / name).read_text() == (builtin / name).read_text()
    (folder / "subject.txt.j2").write_text("[mine] {{ items|length }} items\n")
    again = cli("templates", "export", str(folder))
    assert again.returncode == 0
    assert "kept" in again.stdout
    assert (folder / "subject.txt.j2").read_text() == "[mine] {{ items|length }} items\n"
    forced = cli("templates", "export", str(folder), "--force")
    assert forced.returncode == 0
    assert (folder / "subject.txt.j2").read_text() == (builtin / "subject.txt.j2").read_text()


def test_the_defaults_exist_once_in_the_package() -> None:
    root = Path(__file__).resolve().parents[1]
    assert not (root / "config" / "templates").exists()
    readme = (root / "README.md").read_text()
    assert "config/templates" not in readme
    assert "watcher templates export" in readme
