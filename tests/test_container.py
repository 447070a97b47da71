"""The Dockerfile, as far as it can be tested without a container engine: its build stage runs
step by step into a fresh virtualenv (which must then hold exactly requirements.lock and the
package), and its command runs with the image's environment variables, with the image's paths
(/opt/watcher, /config, /data) placed under a temporary root."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from locking import LOCK, read_lock
from packaging.utils import canonicalize_name

from watcher.testing.fakeapi import FakeParliamentAPI

ROOT = Path(__file__).resolve().parents[1]
VENV_SEEDS = {"pip", "setuptools"}  # what `python -m venv` installs by itself
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def version_of_pyproject() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def env_of(steps: list[tuple[str, str]], root: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in steps:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    mapped = {}
    for key, value in env.items():
        value = value.replace("$PATH", "/usr/bin:/bin")
        mapped[key] = re.sub(
            r"(?<![\w.])/(opt|config|data)\b", lambda m: f"{root}/{m.group(1)}", value
        )
    return mapped


def exec_form(steps: list[tuple[str, str]], word: str) -> list[str]:
    [rest] = [r for w, r in steps if w == word]
    return list(json.loads(rest))


@pytest.fixture
def api() -> Iterator[FakeParliamentAPI]:
    with FakeParliamentAPI.with_fixtures() as server:
        server.add_copy("8602", new_uin="99002", answered=date.today())
        yield server


def test_image_installs_and_runs_its_command_with_its_environment(
    tmp_path: Path, api: FakeParliamentAPI
) -> None:
    steps = instructions()
    final = final_stage()
    assert ("USER", "watcher") in final, "the image must not run as root"
    assert any(w == "HEALTHCHECK" for w, _ in final)

    # The build stage, step by step: COPY what it copies, RUN what it runs, with /opt mapped.
    src = tmp_path / "src"
    src.mkdir()
    build_stage = steps[: len(steps) - len(final)]
    runs = [rest for word, rest in build_stage if word == "RUN"]
    assert any("--require-hashes -r requirements.lock" in run for run in runs)
    assert any("--no-deps ." in run and "pip check" in run for run in runs)
    for word, rest in build_stage:
        if word == "COPY":
            *sources, dest = rest.split()
            for name in sources:
                path = ROOT / name
                if path.is_dir():
                    shutil.copytree(path, src / dest, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(path, src / name)
        elif word == "RUN":
            command = rest.replace("/opt/", f"{tmp_path}/opt/")
            done = subprocess.run(
                ["sh", "-c", command],
                cwd=src,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert done.returncode == 0, f"RUN {rest}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"

    # The venv holds exactly the lock's versions, the package and what venv itself seeds.
    listed = subprocess.run(
        [f"{tmp_path}/opt/watcher/bin/python", "-c", LIST_DISTRIBUTIONS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    versions = {canonicalize_name(k): v for k, v in json.loads(listed.stdout).items()}
    assert versions.pop("watcher") == version_of_pyproject()
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    for seeded in VENV_SEEDS - pins.keys():
        versions.pop(seeded, None)
    assert versions == {name: str(pin.version) for name, pin in pins.items()}

    # The final stage: its environment, a mounted config, and the data volume.
    env = env_of(final, tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "watcher.yaml").write_text(f"""
sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {api.base_url}
    every: 1h
    max_per_second: 20
rules:
  - id: send-workforce
    query: '"SEND workforce"'
subscriptions:
  - rules: [send-workforce]
    to: policy@example.org
""")
    assert env["WATCHER_CONFIG"] == f"{tmp_path}/config/watcher.yaml"
    command = exec_form(final, "ENTRYPOINT") + exec_form(final, "CMD")
    [workdir] = [rest for word, rest in final if word == "WORKDIR"]
    cwd = tmp_path / workdir.lstrip("/")
    [healthcheck] = [r for w, r in final if w == "HEALTHCHECK"]
    health_cmd = json.loads(healthcheck.split(" CMD ", 1)[1])

    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        outbox = tmp_path / "data" / "outbox"
        deadline = time.monotonic() + 60
        while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert len(list(outbox.glob("*.eml"))) == 1
        assert (tmp_path / "data" / "watcher.db").exists()  # the store defaults into /data
        health = subprocess.run(
            health_cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
        assert health.returncode == 0, health.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "event=stopped" in stderr
