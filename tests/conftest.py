"""Shared fixtures.

Store fixtures: ``store_url`` and ``store`` run a test once per backend. SQLite lives in the
test's tmp_path; PostgreSQL needs ``WATCHER_TEST_POSTGRES_URL`` (for example
``postgresql://postgres@127.0.0.1:5432/test``) and is skipped without it. Each PostgreSQL test
gets a schema of its own, dropped afterwards, so tests never see each other's rows.
``another_store_url`` is a second empty store on the same backend, for comparing two.

``api``: a local copy of the Written Questions API serving the recorded fixtures.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from watcher.store import Store, open_store
from watcher.store.engine import store_engine
from watcher.testing.fakeapi import FakeParliamentAPI

POSTGRES_ENV = "WATCHER_TEST_POSTGRES_URL"
POSTGRES_SKIP = f"{POSTGRES_ENV} is not set (PostgreSQL store tests need it)"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of an empty store (not migrated), on each backend in turn."""
    with _empty_store(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture
def another_store_url(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second empty store on the same backend as ``store_url``."""
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    with _empty_store(backend, tmp_path_factory) as url:
        yield url


@contextmanager
def _empty_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        # A directory that does not exist yet: migrate must create it.
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'data' / 'watcher.db'}"
        return
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    """The URL of an empty PostgreSQL store in a schema of its own; skipped without PostgreSQL."""
    with _postgres_schema() as url:
        yield url


@contextmanager
def _postgres_schema() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_SKIP)
    schema = f"watcher_test_{uuid.uuid4().hex[:16]}"
    admin = store_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store, on each backend in turn."""
    s = open_store(store_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def api() -> Iterator[FakeParliamentAPI]:
    """A local copy of the Written Questions API serving the recorded fixtures."""
    with FakeParliamentAPI.with_fixtures() as server:
        yield server
