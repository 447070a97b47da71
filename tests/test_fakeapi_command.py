"""``python -m watcher.testing.fakeapi``: the fake API on its own, as someone trying the commands
offline starts it, in a subprocess; then the commands its banner suggests, run as printed."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from watcher.testing.cli import watcher
from watcher.testing.fakeapi import LIST_PATH, TRUNCATE_AT, load_fixtures

SEED = next(q for q in load_fixtures() if q["uin"] == "8602")


class Served:
    def __init__(self, proc: subprocess.Popen[str], banner: str) -> None:
        self.proc = proc
        self.banner = banner
        [self.base_url] = re.findall(r"^Fake Written Questions API at (\S+)$", banner, re.M)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher.testing.fakeapi", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def served() -> Iterator[Served]:
    proc = start("--port", "0")
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:  # the banner ends with how to stop it
        lines.append(line)
        if line.startswith("Ctrl-C stops"):
            break
    try:
        assert lines, proc.communicate(timeout=30)
        yield Served(proc, "".join(lines))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def stop(served: Served, how: signal.Signals) -> tuple[int, str]:
    served.proc.send_signal(how)
    _, stderr = served.proc.communicate(timeout=30)
    return served.proc.returncode, stderr


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_serves_the_list_and_detail_endpoints_and_stops_cleanly(
    served: Served, how: signal.Signals
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.base_url)
    assert not served.base_url.endswith(":0")  # port 0 was turned into the port it got

    day = SEED["dateAnswered"][:10]
    page = httpx.get(
        served.base_url + LIST_PATH, params={"answeredWhenFrom": day, "answeredWhenTo": day}
    ).json()
    [listed] = [r["value"] for r in page["results"] if r["value"]["id"] == SEED["id"]]
    assert len(listed["answerText"]) == TRUNCATE_AT + len("...")
    assert "SEND workforce" not in listed["answerText"]
    detail = httpx.get(f"{served.base_url}{LIST_PATH}/{SEED['id']}").json()["value"]
    assert detail["answerText"] == SEED["answerText"]
    assert "SEND workforce" in detail["answerText"]
    assert httpx.get(f"{served.base_url}{LIST_PATH}/1").status_code == 404

    code, stderr = stop(served, how)
    assert code == 0
    assert stderr == "fakeapi: stopped\n"  # no traceback, no warning


def test_every_command_its_banner_suggests_works_against_it(served: Served, tmp_path: Path) -> None:
    snippet = re.search(r"^sources:\n(?:  .*\n)+", served.banner, re.M)
    assert snippet is not None, served.banner
    assert f"base_url: {served.base_url}" in snippet.group()
    config = tmp_path / "watcher.yaml"
    config.write_text(
        f"store: sqlite:///{tmp_path}/watcher.db\n"
        f"data_dir: {tmp_path}/data\n"
        f"{snippet.group()}"
        "rules:\n"
        "  - id: send-workforce\n"
        "    query: '\"SEND workforce\"'\n"
        "subscriptions:\n"
        "  - rules: [send-workforce]\n"
        "    digest: immediate\n"
    )
    commands = re.findall(r"^  watcher (.+)$", served.banner, re.M)
    assert [shlex.split(c)[0] for c in commands] == ["run", "backfill", "test-rule"]
    outputs = {}
    for command in commands:
        args = shlex.split(command)
        result = watcher(config, *args)
        assert result.returncode == 0, f"watcher {command}\n{result.stdout}{result.stderr}"
        outputs[args[0]] = result.stdout

    # run --once sent the seed answer to the default channel (files in data/outbox) ...
    [eml] = (tmp_path / "data" / "outbox").glob("*.eml")
    assert "Special Educational Needs" in eml.read_text()
    assert "fetched 24" in outputs["run"]
    # ... and test-rule found it, and every other question naming the phrase, in the store.
    naming = [
        q
        for q in load_fixtures()
        if "SEND workforce" in f"{q['heading']} {q['questionText']} {q['answerText']}"
    ]
    assert len(naming) > 1
    assert f"items matched: {len(naming)}" in outputs["test-rule"]
    # With the default events a subscription is sent answers, not holding answers.
    answered = [q for q in naming if q.get("dateAnswered") and not q.get("answerIsHolding")]
    assert 0 < len(answered) < len(naming)
    assert f"alerts: {len(answered)}" in outputs["test-rule"]
    assert "8602" in outputs["test-rule"]

    code, _ = stop(served, signal.SIGINT)
    assert code == 0


def test_a_port_already_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start("--port", str(port))
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert stderr.startswith(f"fakeapi: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in stderr
    assert stdout == ""
