"""Faults a client meets at submission: the broker down, the database unreachable.

The API runs in-process (TestClient) against a private cluster: its own Redis (stopped and
restarted by the test), its own tracking server, and a PostgreSQL database reached through a TCP
proxy the test can cut. A real Celery worker runs what gets through.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ferbench.services.redis_server import start_redis
from ferbench.settings import Settings
from ferbench.testing.databases import postgres_database
from tests.reliability.cluster import TINY, Cluster, record_fault
from tests.reliability.conftest import cluster
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, proxy: TcpProxy) -> Iterator[tuple[Cluster, TestClient]]:
    home = tmp_path_factory.mktemp("client-faults")
    with postgres_database("faults") as database_url:
        through_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        # The worker drains the outbox every second (rows pending for longer than the send grace period).
        with cluster(home, database_url=database_url, reaper_interval_s=1) as built:
            settings = Settings(home=home, data_dir=Path(home) / "data", database_url=through_proxy,
                                broker_url=built.redis.url, mlflow_tracking_uri=built.mlflow.url)
            with TestClient(create_app(settings), raise_server_exceptions=False) as client:
                yield built, client


def test_broker_down_at_submit_is_503_then_the_outbox_runs_it_exactly_once(
    clients: tuple[Cluster, TestClient],
) -> None:
    faults, client = clients
    before = faults.counts()
    faults.redis.stop()
    answer = client.post("/experiments", json={**TINY, "epochs": 1})
    assert answer.status_code == 503, answer.text
    detail = answer.json()["detail"]
    assert "broker" in detail["message"].lower() and "Traceback" not in answer.text
    (experiment_id,) = detail["pending_experiment_ids"]
    assert faults.row(experiment_id).status == "pending"  # recorded, not `queued`: no worker could see it

    restarted = start_redis(faults.redis.data_dir, port=faults.redis.port, persistent=True)
    faults.redis.process = restarted.process
    faults.start_worker("worker")
    final = faults.wait_finished(experiment_id)
    assert final.status == "succeeded", final.error
    assert final.attempts == 1 and faults.results_for(experiment_id) == 1
    assert len(faults.mlflow_runs_of(experiment_id)) == 1
    time.sleep(2.0)  # a second send of the outbox row would be claimed (and skipped) by now
    assert "not claimable" not in faults.workers[0].log()
    after = faults.counts_grew_by(before, experiments=1, results=1, mlflow_runs=1)
    record_fault("broker down when a client submits", "redis-server stopped, then POST /experiments",
                 "503 naming the broker and the pending experiment id; the row stayed `pending` (never `queued`); "
                 "after the restart a worker's outbox drain sent it once; succeeded with one result row and one "
                 "MLflow run", before, after)


def test_database_unreachable_is_503_for_every_endpoint_and_nothing_half_written(
    clients: tuple[Cluster, TestClient], proxy: TcpProxy,
) -> None:
    faults, client = clients
    before = faults.counts()
    proxy.cut()
    try:
        health = client.get("/health")
        assert health.status_code == 503 and "database" in health.text
        for answer in (client.post("/experiments", json={**TINY, "epochs": 1}), client.get("/experiments"),
                       client.get("/leaderboard")):
            assert answer.status_code == 503, answer.text
            assert "Traceback" not in answer.text and "psycopg" not in answer.text
    finally:
        proxy.restore()
    assert faults.counts() == before  # the failed POST left no row behind
    answer = client.post("/experiments", json={**TINY, "epochs": 1})
    assert answer.status_code == 202, answer.text
    final = faults.wait_finished(answer.json()["id"])
    assert final.status == "succeeded", final.error
    after = faults.counts_grew_by(before, experiments=1, results=1)
    record_fault("database unreachable (API)", "TCP path API->PostgreSQL cut: /health, POST /experiments, "
                 "GET /experiments, GET /leaderboard",
                 "503 from every endpoint (health names the database), no stack trace, no row written; once the "
                 "path was back the same POST was accepted and ran once", before, after)
