from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from ferbench.db.session import make_session_factory
from tests.ferbench.db.backends import BACKENDS, empty_tables, migrated_database


@pytest.fixture(scope="session", params=BACKENDS)
def _database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def db_url(_database: str) -> str:
    empty_tables(_database)
    return _database


@pytest.fixture
def session_factory(db_url: str) -> Iterator[Callable[[], Session]]:
    factory = make_session_factory(db_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def session(session_factory: Callable[[], Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()
