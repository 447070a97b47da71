"""Running the ``watcher`` command as a user would, in a subprocess, for end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def watcher(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``watcher --config CONFIG ARGS...`` with this interpreter; output captured as text."""
    return subprocess.run(  # noqa: S603 (our own command, arguments from the test)
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
