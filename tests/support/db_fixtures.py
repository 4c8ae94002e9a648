"""The leaderboard database for tests on both backends: one migrated SQLite file and one PostgreSQL
database per session, emptied before each test that asks for `db_url`. Shared by tests/api and
tests/ferbench/db (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferbench.testing.databases import BACKENDS, empty_tables, migrated_database


@pytest.fixture(scope="session", params=BACKENDS)
def _database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def db_url(_database: str) -> str:
    empty_tables(_database)
    return _database
