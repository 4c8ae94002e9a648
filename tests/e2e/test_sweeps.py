"""Sweeps end to end on real processes (uvicorn-less app, Redis, PostgreSQL, `mlflow server`, two Celery workers):
a 6-trial sweep ends with exactly 6 trials and a best one, across a restart of the API; its MLflow parent run
holds the trials as children and Optuna's plots; a cancel stops the rest."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from tests.e2e.conftest import Service

pytestmark = [pytest.mark.services, pytest.mark.slow]

BASE = {"model": "cnn-small", "dataset": "faces", "batch_size": 16, "epochs": 1}
SPACE = {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
         "hp.filters": {"kind": "choice", "values": [8, 16]}}


def wait_sweep(client: TestClient, sweep_id: str, done: Any, timeout_s: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"/sweeps/{sweep_id}").json()
        if done(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.5)


def wait_parent_ended(tracking_uri: str, run_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while MlflowClient(tracking_uri).get_run(run_id).info.status == "RUNNING":
        assert time.monotonic() < deadline, "the sweep's parent run never ended"
        time.sleep(0.5)


@pytest.mark.parametrize("service", ["postgresql"], indirect=True)
def test_a_six_trial_sweep_on_two_workers_ends_with_six_trials_and_a_best_across_an_api_restart(
        service: Service) -> None:
    from api.main import create_app
    from ferbench.testing.worker import service_env, start_worker

    settings = service.settings
    env = service_env(home=settings.home, database_url=settings.database_url, broker_url=settings.broker_url,
                      tracking_uri=service.tracking_uri)
    second = start_worker(env, settings.home / "worker-2.log", broker_url=settings.broker_url)
    try:
        created = service.client.post("/sweeps", json={"base": BASE, "space": SPACE, "n_trials": 6, "parallel": 2,
                                                       "pruner": "none", "sampler": "tpe"})
        assert created.status_code == 202, created.text
        sweep_id = created.json()["id"]
        wait_sweep(service.client, sweep_id, lambda b: b["trial_states"].get("complete", 0) >= 1)
        # The API restarts mid-sweep: it holds nothing, the workers carry the sweep on.
        with TestClient(create_app(settings)) as restarted:
            final = wait_sweep(restarted, sweep_id, lambda b: b["status"] != "running")
        wait_parent_ended(service.tracking_uri, final["mlflow_run_id"])  # logged just after the sweep ends
        logs = [service.worker.log(), second.log()]
    finally:
        second.stop()
    assert final["status"] == "succeeded", final
    trials = final["trials"]
    assert [t["number"] for t in trials] == list(range(6)) and {t["state"] for t in trials} == {"complete"}
    experiments = [e for t in trials for e in t["experiments"]]
    assert len(experiments) == 6 and {e["status"] for e in experiments} == {"succeeded"}
    rows = [service.client.get(e["experiment_url"]).json() for e in experiments]
    assert all(any(f"claimed experiment {e['id']}" in log for e in experiments) for log in logs)  # both took trials
    spans = sorted((r["started_at"], r["finished_at"]) for r in rows)
    assert max(sum(s <= start < f for s, f in spans) for start, _ in spans) <= 2  # never more than `parallel`
    best = final["best"]
    values = [t["value"] for t in trials]
    assert best["value"] == max(values) and best["test_metrics"]["accuracy"] is not None

    mlflow = MlflowClient(service.tracking_uri)
    parent = mlflow.get_run(final["mlflow_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(best["value"])
    assert parent.data.metrics["best_test_accuracy"] == pytest.approx(best["test_metrics"]["accuracy"])
    plots = {a.path for a in mlflow.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/parallel_coordinate.png"} <= plots, plots
    for e in experiments:
        child = mlflow.get_run(e["mlflow_run_id"])
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id and child.data.tags["sweep_id"] == sweep_id
    # Trials are ordinary experiments: their results rank (pruned ones never would: they have none).
    board = service.client.get("/leaderboard", params={"dataset": "faces"}).json()
    assert {e["experiment_id"] for e in board["entries"]} & {e["id"] for e in experiments}


@pytest.mark.parametrize("service", ["postgresql"], indirect=True)
def test_cancel_stops_the_running_trial_and_queues_no_more(service: Service) -> None:
    created = service.client.post("/sweeps", json={"base": {**BASE, "epochs": 30}, "space": SPACE, "n_trials": 6,
                                                   "parallel": 1, "pruner": "none"}).json()
    wait_sweep(service.client, created["id"],
               lambda b: any(e["status"] == "running" for t in b["trials"] for e in t["experiments"]))
    assert service.client.post(f"/sweeps/{created['id']}/cancel").status_code == 202
    final = wait_sweep(service.client, created["id"], lambda b: b["status"] == "cancelled", timeout_s=180)
    wait_parent_ended(service.tracking_uri, final["mlflow_run_id"])
    assert len(final["trials"]) == 1 and final["trials"][0]["state"] == "cancelled"
    assert final["trials"][0]["experiments"][0]["status"] == "cancelled"
    parent = MlflowClient(service.tracking_uri).get_run(final["mlflow_run_id"])
    assert parent.info.status == "KILLED"
    assert service.client.post(f"/sweeps/{created['id']}/cancel").status_code == 409
