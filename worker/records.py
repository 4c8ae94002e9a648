"""Every database read and write the worker makes, each in its own short transaction.

Thin on purpose: the SQL lives in ferbench.db.crud (shared with the API); this module only opens
sessions for the worker's process and turns rows into what the task needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from ferbench.db import crud
from ferbench.settings import get_settings


@dataclass(frozen=True)
class Claimed:
    """What the task needs from a claimed row (detached from its session)."""

    experiment_id: str
    spec: dict[str, Any]
    mlflow_run_id: str | None
    attempts: int


@lru_cache(maxsize=4)
def _factory(url: str) -> Callable[[], Session]:
    from ferbench.db.session import make_session_factory

    return make_session_factory(url)


@contextmanager
def session_scope() -> Iterator[Session]:
    session = _factory(get_settings().resolved_database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def claim(experiment_id: str) -> Claimed | None:
    """Claim the row (None when another delivery owns it, or it is no longer queued)."""
    with session_scope() as session:
        row = crud.claim_experiment(session, experiment_id)
        if row is None:
            return None
        spec, run_id, attempts = dict(row.spec), row.mlflow_run_id, int(row.attempts or 0)
    return Claimed(experiment_id=experiment_id, spec=spec, mlflow_run_id=run_id, attempts=attempts)


def set_mlflow_run_id(experiment_id: str, run_id: str) -> None:
    with session_scope() as session:
        crud.set_mlflow_run_id(session, experiment_id, run_id)


def update_progress(experiment_id: str, progress: dict[str, Any]) -> None:
    with session_scope() as session:
        crud.update_progress(session, experiment_id, progress)


def is_cancel_requested(experiment_id: str) -> bool:
    with session_scope() as session:
        return bool(crud.is_cancel_requested(session, experiment_id))


def finish(experiment_id: str, result: Any) -> None:
    with session_scope() as session:
        crud.finish_experiment(session, experiment_id, result)


def fail(experiment_id: str, error: str) -> None:
    with session_scope() as session:
        crud.fail_experiment(session, experiment_id, error)


def cancelled(experiment_id: str) -> None:
    with session_scope() as session:
        crud.mark_cancelled(session, experiment_id)


def drain_outbox(enqueue: Callable[[str], None]) -> int:
    with session_scope() as session:
        return int(crud.drain_outbox(session, enqueue) or 0)
