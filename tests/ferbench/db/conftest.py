from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from ferbench.db.session import make_session_factory


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
