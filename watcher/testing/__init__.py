"""Test doubles that ship with the package, so tests and the offline demo share them.

``FakeParliamentAPI`` is a real local HTTP server imitating the Written Questions API;
``load_fixtures`` gives the recorded and synthetic questions in ``data/`` (see its README).
"""

from __future__ import annotations

from watcher.testing.fakeapi import FakeParliamentAPI, load_fixtures

__all__ = ["FakeParliamentAPI", "load_fixtures"]
