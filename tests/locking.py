"""requirements.lock, read and checked against pyproject.toml (tests/test_lock.py,
tests/test_container.py).

The check walks the requirement graph from pyproject.toml's ``[project].dependencies``, extras
included, reading what each package needs from the metadata of the version installed in this
venv, with markers evaluated for the image (CPython 3.11 on Linux). scripts/test installs the
lock before the test tools, so the installed versions are the pinned ones and their metadata
is the graph the lock was resolved from: the check needs no network, and it also proves that
the tests ran on the image's exact versions.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"

# The image's interpreter (python:3.11-slim), whatever machine the tests run on.
IMAGE: dict[str, str] = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "python_version": "3.11",
    "python_full_version": (
        default_environment()["python_full_version"]
        if sys.version_info[:2] == (3, 11)
        else "3.11.0"
    ),
}


class LockError(ValueError):
    """The lock file is not a list of exact, hashed pins."""


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: Version
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Dist:
    """What this venv has installed of one package."""

    version: Version
    requires: tuple[str, ...]


def dependencies(path: Path = PYPROJECT) -> list[str]:
    """pyproject.toml's ``[project].dependencies``, as written."""
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"])


def read_lock(text: str) -> dict[str, Pin]:
    """The pins of a requirements file in ``pip-compile --generate-hashes`` form, by name."""
    pins: dict[str, Pin] = {}
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise LockError(f"unexpected option line (only pins belong here): {line}")
        spec = re.split(r"\s--", line, maxsplit=1)[0].strip()
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise LockError(f"not a requirement: {spec!r}: {exc}") from exc
        name = canonicalize_name(req.name)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            raise LockError(f"{spec}: not an exact pin (name==version)")
        hashes = tuple(re.findall(r"--hash[=\s](\S+)", line))
        if not hashes:
            raise LockError(f"{spec}: no --hash (the image installs with --require-hashes)")
        if req.marker is not None and not req.marker.evaluate(IMAGE):
            continue  # not for the image's platform: pip skips it there too
        if name in pins:
            raise LockError(f"{name} is pinned twice")
        pins[name] = Pin(name, Version(specs[0].version), hashes)
    return pins


def installed(name: str) -> Dist | None:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    return Dist(Version(dist.version), tuple(dist.requires or ()))


def problems(
    wanted: Iterable[str],
    pins: Mapping[str, Pin],
    installed: Callable[[str], Dist | None] = installed,
) -> list[str]:
    """Every way the lock fails ``wanted`` (pyproject's dependencies), one sentence each:
    a package needed but not pinned, a pin some requirement does not allow, a pin whose
    installed version differs (so its requirements cannot be read), and a pin nothing needs."""
    found: list[str] = []
    reached: set[str] = set()
    expanded: set[tuple[str, str]] = set()
    queue: list[tuple[Requirement, str]] = []

    def report(message: str) -> None:
        if message not in found:
            found.append(message)

    def want(req: Requirement, by: str, extra: str = "") -> None:
        if req.marker is None or req.marker.evaluate({**IMAGE, "extra": extra}):
            queue.append((req, by))

    for text in wanted:
        want(Requirement(text), "pyproject.toml")
    while queue:
        req, by = queue.pop(0)
        name = canonicalize_name(req.name)
        pin = pins.get(name)
        if pin is None:
            report(f"{req} (needed by {by}) is not pinned in requirements.lock")
            continue
        reached.add(name)
        if not req.specifier.contains(pin.version, prereleases=True):
            report(
                f"requirements.lock pins {name}=={pin.version}, which {by} does not allow: {req}"
            )
        dist = installed(name)
        if dist is None:
            report(
                f"{name} is pinned but not installed here, so what it needs is unknown "
                "(scripts/test installs requirements.lock first)"
            )
            continue
        if dist.version != pin.version:
            report(
                f"{name} {dist.version} is installed but requirements.lock pins {pin.version} "
                "(scripts/test installs the lock first; if a test tool needs another version, "
                f"run scripts/lock --upgrade-package {name})"
            )
            continue
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in expanded:
                continue
            expanded.add((name, extra))
            for text in dist.requires:
                dep = Requirement(text)
                added_by_extra = dep.marker is not None and not dep.marker.evaluate(
                    {**IMAGE, "extra": ""}
                )
                if not extra or added_by_extra:
                    want(dep, f"{name}[{extra}]" if extra else name, extra)
    for name in sorted(pins.keys() - reached):
        report(
            f"requirements.lock pins {name}=={pins[name].version}, which nothing in "
            "pyproject.toml needs any more (run scripts/lock)"
        )
    return found
