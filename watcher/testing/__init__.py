"""Test doubles that ship with the package, so tests and the offline demo share them.

``FakeParliamentAPI`` is a real local HTTP server imitating the Written Questions API;
``load_fixtures`` gives the recorded and synthetic questions in ``data/`` (see its README).
``python -m watcher.testing.fakeapi`` serves them on their own, to try the commands offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.testing.fakeapi import FakeParliamentAPI, load_fixtures

__all__ = ["FakeParliamentAPI", "load_fixtures"]


def __getattr__(name: str) -> Any:
    # Imported on first use rather than with the package: `python -m watcher.testing.fakeapi`
    # must find the module not yet imported, or runpy warns that it runs a second copy.
    if name in __all__:
        from watcher.testing import fakeapi

        return getattr(fakeapi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
