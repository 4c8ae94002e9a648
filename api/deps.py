"""Request dependencies: the settings, a database session, the enqueue function, API-key checks.

Everything heavy (engine, Celery app) is built lazily on first use and kept on `app.state`, so
importing or creating the app touches neither the database nor the broker.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ferbench.settings import Settings

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Required by write endpoints when FERBENCH_API_KEYS is set")


class AppResources:
    """Lazily built per-app resources (one per `create_app`, no module globals)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._factories: dict[str, Callable[[], Session]] = {}
        self._celery: Any = None

    def _factory(self, isolation_level: str | None) -> Callable[[], Session]:
        key = isolation_level or "default"
        with self._lock:
            if key not in self._factories:
                from ferbench.db.session import make_engine, make_session_factory

                if self._engine is None:
                    self._engine = make_engine(self.settings.resolved_database_url)
                # One pool either way: execution_options makes a view of the engine, not a second engine.
                engine = self._engine.execution_options(isolation_level=isolation_level) if isolation_level else self._engine
                self._factories[key] = make_session_factory(engine)
            return self._factories[key]

    def session_factory(self) -> Callable[[], Session]:
        return self._factory(None)

    def autocommit_session_factory(self) -> Callable[[], Session]:
        """Sessions for endpoints that answer from one SELECT: no BEGIN and ROLLBACK round trips around it."""
        return self._factory("AUTOCOMMIT")

    def celery(self) -> Any:
        with self._lock:
            if self._celery is None:
                from ferbench.queue import make_celery

                app = make_celery(self.settings)
                # Fail fast when the broker is down: the API answers 503 instead of hanging.
                app.conf.broker_connection_timeout = 2
                app.conf.broker_connection_max_retries = 0
                app.conf.broker_transport_options = {**app.conf.broker_transport_options,
                                                     "max_retries": 0, "socket_connect_timeout": 2,
                                                     "socket_timeout": 5}
                self._celery = app
            return self._celery

    def enqueue(self, experiment_id: str) -> None:
        from ferbench.queue import enqueue_experiment

        enqueue_experiment(self.celery(), experiment_id)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


# The cheap dependencies are `async def` so FastAPI runs them inline instead of hopping to its
# threadpool for each (a hop per dependency per request shows up in GET /leaderboard's latency).
async def resources(request: Request) -> AppResources:
    return request.app.state.resources


async def get_settings_dep(res: AppResources = Depends(resources)) -> Settings:
    return res.settings


def get_session(res: AppResources = Depends(resources)) -> Iterator[Session]:
    session = res.session_factory()()
    try:
        yield session
    finally:
        session.close()


def _check_key(settings: Settings, key: str | None) -> None:
    keys = settings.api_key_list
    if not keys:
        return
    if not key:
        raise HTTPException(status_code=401, detail="missing X-API-Key header", headers={"WWW-Authenticate": "ApiKey"})
    # Compare against every key (no early exit) so timing does not reveal which prefix matched.
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(key.encode(), candidate.encode())
    if not matched:
        raise HTTPException(status_code=403, detail="invalid API key")


async def require_write_key(settings: Settings = Depends(get_settings_dep), key: str | None = Depends(_api_key_header)) -> None:
    _check_key(settings, key)


async def require_read_key(settings: Settings = Depends(get_settings_dep), key: str | None = Depends(_api_key_header)) -> None:
    if settings.read_requires_key:
        _check_key(settings, key)
