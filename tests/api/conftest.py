"""API tests run the real app on SQLite and PostgreSQL with a real Redis broker (no fakes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.main import create_app
from ferbench.services.redis_server import RedisServer, start_redis
from ferbench.settings import Settings
from ferbench.testing.databases import private_redis, purge


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    with private_redis() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of our own on a free port (for tests that count or flush everything in it)."""
    with start_redis(tmp_path_factory.mktemp("api-redis"), persistent=False) as server:
        yield server


@pytest.fixture
def broker(broker_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(broker_url)
    purge(client)
    yield client
    purge(client)
    client.close()


def queued_task_ids(broker: redis.Redis) -> list[str]:
    """The Celery task ids waiting in the `gpu` queue, oldest first."""
    messages = [json.loads(m) for m in broker.lrange("gpu", 0, -1)]
    assert all(m["headers"]["task"] == "ferbench.run_experiment" for m in messages)
    return [m["headers"]["id"] for m in reversed(messages)]


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(db_url: str, broker: redis.Redis, broker_url: str, tmp_path: Path) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {"home": tmp_path, "data_dir": tmp_path / "data", "database_url": db_url,
                                  "broker_url": broker_url, "mlflow_tracking_uri": str(tmp_path / "mlruns"),
                                  **overrides}
        client = TestClient(create_app(Settings(**values)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
