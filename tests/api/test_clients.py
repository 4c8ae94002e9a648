"""Many clients at once against a real uvicorn process: retries are safe, nothing is lost or sent twice.

The API runs as a subprocess (real threads, real sockets) on SQLite and on PostgreSQL, with a
private redis-server on a free port as the broker; we count rows in SQL and messages in the `gpu` list.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from sqlalchemy import select

from ferbench.db.models import Experiment
from ferbench.db.session import make_engine
from ferbench.services.redis_server import RedisServer
from ferbench.testing.databases import empty_tables
from ferbench.testing.live_api import LiveApi, live_api

API_KEY = "clients-test-key-5f1c9e"
HEADERS = {"X-API-Key": API_KEY}
SPEC = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1, "batch_size": 16}
CLIENTS, PER_CLIENT = 20, 10


@pytest.fixture(scope="module")
def api(_database: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    # Debug logging on purpose: even then the API key must not reach the log.
    with live_api(home=tmp_path_factory.mktemp("clients-api"), database_url=_database, broker_url=redis_server.url,
                  log_level="debug", extra_env={"FERBENCH_API_KEYS": API_KEY}) as server:
        yield server


@pytest.fixture
def fresh(api: LiveApi, _database: str, redis_server: RedisServer) -> Iterator[redis.Redis]:
    empty_tables(_database)
    broker = redis.Redis.from_url(redis_server.url)
    broker.flushdb()
    yield broker
    broker.close()


def gpu_messages(broker: redis.Redis) -> Counter[str]:
    """How many messages in the `gpu` queue name each experiment id."""
    messages = [json.loads(m) for m in broker.lrange("gpu", 0, -1)]
    assert all(m["headers"]["task"] == "ferbench.run_experiment" for m in messages)
    return Counter(m["headers"]["id"] for m in messages)


def rows(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(Experiment.id, Experiment.status)).all())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_200_submissions_from_20_clients_are_each_recorded_and_enqueued_once(
    api: LiveApi, fresh: redis.Redis, _database: str
) -> None:
    def client_session(c: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=api.url, headers=HEADERS, timeout=60) as http:
            for k in range(PER_CLIENT):
                body = {**SPEC, "seed": c * PER_CLIENT + k}
                key = {"Idempotency-Key": f"client-{c}-request-{k}"}
                first = http.post("/experiments", json=body, headers=key)
                assert first.status_code == 202, first.text
                # Every client also retries every request, as one would after a lost answer.
                retry = http.post("/experiments", json=body, headers=key)
                assert retry.status_code == 202 and retry.json()["id"] == first.json()["id"], retry.text
                ids.append(first.json()["id"])
        return ids

    with ThreadPoolExecutor(CLIENTS) as pool:
        ids = [i for batch in pool.map(client_session, range(CLIENTS)) for i in batch]
    assert len(ids) == len(set(ids)) == CLIENTS * PER_CLIENT
    stored = rows(_database)
    assert set(stored) == set(ids) and set(stored.values()) == {"queued"}
    assert gpu_messages(fresh) == Counter(ids)  # each experiment's message exactly once
    assert API_KEY not in api.log() and "POST /experiments" in api.log()


def test_concurrent_retries_with_one_key_and_body_create_one_batch_and_send_it_once(
    api: LiveApi, fresh: redis.Redis, _database: str
) -> None:
    body = [SPEC, {**SPEC, "seed": 1}, {**SPEC, "seed": 2}]
    start = threading.Barrier(10)

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=api.url, headers={**HEADERS, "Idempotency-Key": "same-retry"}, timeout=60) as http:
            start.wait()
            return http.post("/experiments", json=body)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(submit, range(10)))
    assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers if a.status_code != 202]
    batches = {tuple(e["id"] for e in a.json()) for a in answers}
    assert len(batches) == 1
    (ids,) = batches
    assert set(rows(_database)) == set(ids) and len(ids) == 3
    assert gpu_messages(fresh) == Counter(ids)


def test_concurrent_requests_reusing_a_key_with_other_bodies_get_409_and_create_nothing(
    api: LiveApi, fresh: redis.Redis, _database: str
) -> None:
    start = threading.Barrier(8)

    def submit(seed: int) -> httpx.Response:
        with httpx.Client(base_url=api.url, headers={**HEADERS, "Idempotency-Key": "reused"}, timeout=60) as http:
            start.wait()
            return http.post("/experiments", json={**SPEC, "seed": seed})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(submit, range(8)))
    codes = Counter(a.status_code for a in answers)
    assert codes == {202: 1, 409: 7}, [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 202)
    assert all("different request body" in a.json()["detail"] for a in answers if a.status_code == 409)
    assert list(rows(_database)) == [winner["id"]]
    assert gpu_messages(fresh) == Counter([winner["id"]])


def test_the_api_key_is_required_over_the_wire_and_never_echoed(api: LiveApi, fresh: redis.Redis,
                                                                _database: str) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as http:
        assert http.post("/experiments", json=SPEC).status_code == 401
        wrong = http.post("/experiments", json=SPEC, headers={"X-API-Key": API_KEY + "x"})
        assert wrong.status_code == 403 and API_KEY not in wrong.text
        listed = http.get("/experiments", headers=HEADERS)
        assert listed.status_code == 200
    assert rows(_database) == {} and not gpu_messages(fresh)
    assert API_KEY not in api.log()
