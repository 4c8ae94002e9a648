"""Fixtures of the end-to-end tests: real Redis, real `mlflow server`, a real Celery worker, the real API.

One Redis and one tracking server serve the whole session; each database backend (SQLite and
PostgreSQL) gets its own state folder, database, migrations, worker process and API, shared by the
tests of a module (a worker start costs seconds on 2 cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from ferbench.services.mlflow_server import MlflowServer
from ferbench.services.redis_server import RedisServer, start_redis
from ferbench.settings import Settings
from ferbench.stack import migrate
from ferbench.testing.databases import postgres_database
from ferbench.testing.face_folders import write_face_folders
from ferbench.testing.worker import WorkerProcess, service_env, start_worker

# Synthetic faces, few enough that an epoch takes a second on 2 busy cores (the built-in
# `synthetic` set has 4,200 and takes tens of seconds per epoch there).
DATASET = "faces"


@dataclass
class Service:
    """What a test gets: the API client, the worker process, the settings and the tracking URI."""

    client: Any  # fastapi.testclient.TestClient
    worker: WorkerProcess
    settings: Any  # ferbench.settings.Settings
    tracking_uri: str
    backend: str


@pytest.fixture(scope="session")
def e2e_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with start_redis(tmp_path_factory.mktemp("e2e-redis"), persistent=False) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest,
    e2e_broker: RedisServer,
    mlflow_server: MlflowServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    from api.main import create_app

    backend: str = request.param
    home = tmp_path_factory.mktemp(f"e2e-{backend}")
    write_face_folders(home / "data", DATASET, n=210)
    # Leftover messages of the other backend's module must not reach this one's worker.
    redis.Redis.from_url(e2e_broker.url).flushdb()
    database = postgres_database("e2e") if backend == "postgresql" else nullcontext(f"sqlite:///{home / 'ferbench.db'}")
    with database as database_url:
        env = service_env(home=home, database_url=database_url, broker_url=e2e_broker.url, tracking_uri=mlflow_server.url)
        migrate(database_url, home / "logs")
        worker = start_worker(env, home / "worker.log", broker_url=e2e_broker.url)
        settings = Settings(home=home, data_dir=home / "data", database_url=database_url,
                            broker_url=e2e_broker.url, mlflow_tracking_uri=mlflow_server.url)
        try:
            with TestClient(create_app(settings)) as client:
                yield Service(client, worker, settings, mlflow_server.url, backend)
        finally:
            worker.stop()  # the database is dropped WITH (FORCE): open pool connections do not block it

