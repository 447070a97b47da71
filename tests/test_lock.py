"""requirements.lock matches pyproject.toml: CI's check that the image's exact versions are the
ones pyproject.toml asks for, and that this venv runs them (see tests/locking.py).

The first test is the check itself; the others change one thing in pyproject's dependencies or
in the lock, the way an edit would, and show that the check names what broke.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from locking import LOCK, LockError, Pin, dependencies, problems, read_lock
from packaging.version import Version


@pytest.fixture(scope="module")
def pins() -> dict[str, Pin]:
    return read_lock(LOCK.read_text(encoding="utf-8"))


def with_dependency(name: str, new: str | None) -> list[str]:
    """pyproject's dependencies with the one for ``name`` replaced by ``new`` (None: dropped)."""
    out = [d for d in dependencies() if not re.match(rf"{re.escape(name)}\b", d)]
    assert len(out) == len(dependencies()) - 1, f"pyproject.toml has no dependency {name}"
    return out if new is None else [*out, new]


def test_the_lock_pins_what_pyproject_needs_and_nothing_else_and_this_venv_runs_it(
    pins: dict[str, Pin],
) -> None:
    assert problems(dependencies(), pins) == []
    # psycopg[binary] is followed through its extra.
    assert "psycopg-binary" in pins


def test_a_new_dependency_that_the_lock_does_not_pin(pins: dict[str, Pin]) -> None:
    found = problems([*dependencies(), "rich>=13"], pins)
    assert found == ["rich>=13 (needed by pyproject.toml) is not pinned in requirements.lock"]


def test_a_raised_lower_bound_that_the_pin_no_longer_meets(pins: dict[str, Pin]) -> None:
    pinned = pins["httpx"].version
    found = problems(with_dependency("httpx", f"httpx>{pinned}"), pins)
    assert found == [
        f"requirements.lock pins httpx=={pinned}, which pyproject.toml does not allow: "
        f"httpx>{pinned}"
    ]


def test_a_transitive_pin_that_its_parent_does_not_allow(pins: dict[str, Pin]) -> None:
    core = pins["pydantic-core"]
    other = Version(f"{core.version.major}.{core.version.minor}.{core.version.micro + 1}")
    found = problems(dependencies(), {**pins, "pydantic-core": replace(core, version=other)})
    assert any(
        f.startswith(f"requirements.lock pins pydantic-core=={other}, which pydantic does not")
        for f in found
    ), found
    assert any("pydantic-core" in f and "is installed but" in f for f in found), found


def test_an_extra_whose_package_the_lock_lacks(pins: dict[str, Pin]) -> None:
    without = {k: v for k, v in pins.items() if k != "psycopg-binary"}
    found = problems(dependencies(), without)
    assert len(found) == 1
    assert found[0].startswith("psycopg-binary")
    assert found[0].endswith("(needed by psycopg[binary]) is not pinned in requirements.lock")


def test_an_extra_dropped_from_pyproject_leaves_its_package_stale(pins: dict[str, Pin]) -> None:
    found = problems(with_dependency("psycopg", "psycopg>=3.1.18"), pins)
    assert found == [
        f"requirements.lock pins psycopg-binary=={pins['psycopg-binary'].version}, which "
        "nothing in pyproject.toml needs any more (run scripts/lock)"
    ]


def test_a_dependency_removed_from_pyproject_leaves_it_and_its_own_stale(
    pins: dict[str, Pin],
) -> None:
    found = problems(with_dependency("aiosmtpd", None), pins)
    stale = [re.match(r"requirements.lock pins ([\w-]+)==.* needs any more", f) for f in found]
    assert all(stale), found
    # attrs and atpublic came only with aiosmtpd; what others need too stays.
    assert sorted(m.group(1) for m in stale if m) == ["aiosmtpd", "atpublic", "attrs"]


def test_a_venv_that_does_not_run_the_locked_version_is_reported(pins: dict[str, Pin]) -> None:
    lock = LOCK.read_text(encoding="utf-8")
    pinned = pins["jinja2"].version
    edited = lock.replace(f"\njinja2=={pinned} ", "\njinja2==3.1.0 ")
    assert edited != lock
    found = problems(dependencies(), read_lock(edited))
    assert any(
        f.startswith(f"jinja2 {pinned} is installed but requirements.lock pins 3.1.0")
        for f in found
    ), found


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("httpx>=0.27 \\\n    --hash=sha256:00\n", "not an exact pin"),
        ("httpx==0.28.1\n", "no --hash"),
        ("--index-url https://example.org/simple\n", "unexpected option line"),
        ("httpx==0.28.1 --hash=sha256:00\nHTTPX==0.28.1 --hash=sha256:00\n", "pinned twice"),
    ],
)
def test_the_lock_holds_exact_hashed_pins_only(text: str, error: str) -> None:
    with pytest.raises(LockError, match=error):
        read_lock(text)
