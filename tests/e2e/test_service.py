"""End to end on real processes: HTTP submission -> Redis -> Celery worker -> Keras -> MLflow + SQL -> HTTP.

Every test runs on SQLite and on PostgreSQL (the `service` fixture's two parameters).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.conftest import Service

pytestmark = [pytest.mark.services, pytest.mark.slow]

TERMINAL = ("succeeded", "failed", "cancelled")
FINAL_METRICS = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
                 "roc_auc_macro", "top2_accuracy", "train_seconds", "epoch_seconds", "inference_ms", "throughput",
                 "params", "model_bytes")
TINY = {"model": "cnn-small", "dataset": "faces", "batch_size": 16}  # faces: see conftest.DATASET


def submit(service: Service, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = service.client.post("/experiments", json=body)
    assert answer.status_code == 202, answer.text
    data = answer.json()
    return data if isinstance(data, list) else data.get("experiments", [data])


def get(service: Service, experiment_id: str) -> dict[str, Any]:
    answer = service.client.get(f"/experiments/{experiment_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_until(service: Service, experiment_id: str, done: Any, *, timeout_s: float = 180.0, poll_s: float = 0.05) -> list[dict[str, Any]]:
    """Poll until `done(experiment)`; returns every distinct state seen on the way."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        exp = get(service, experiment_id)
        if not seen or (exp["status"], exp.get("progress")) != (seen[-1]["status"], seen[-1].get("progress")):
            seen.append(exp)
        if done(exp):
            return seen
        assert service.worker.process.poll() is None, f"the worker died:\n{service.worker.log()[-3000:]}"
        assert time.monotonic() < deadline, f"{experiment_id} still {exp['status']} after {timeout_s} s; worker log:\n{service.worker.log()[-3000:]}"
        time.sleep(poll_s)


def finished(exp: dict[str, Any]) -> bool:
    return exp["status"] in TERMINAL


def test_a_batch_with_repeats_trains_with_live_progress_and_lands_on_the_leaderboard_and_in_mlflow(service: Service) -> None:
    # One request, the same spec with two seeds: every training job costs seconds here, so the
    # single-run checks and the mean/std checks share the two runs.
    batch = submit(service, {**TINY, "epochs": 3, "seed": 1, "repeats": 2})
    assert len(batch) == 2 and sorted(e["spec"]["seed"] for e in batch) == [1, 2]
    assert all(e["status"] in ("queued", "pending") for e in batch)
    seen = wait_until(service, batch[0]["id"], finished)
    final = seen[-1]
    assert final["status"] == "succeeded", final.get("error")

    # Progress advanced while running: epochs reported in order, ending at 3 of 3.
    epochs = [s["progress"]["epoch"] for s in seen if s["status"] == "running" and s.get("progress")]
    assert epochs == sorted(epochs) and len(set(epochs)) >= 2, seen
    assert final["progress"]["epoch"] == final["progress"]["epochs"] == 3
    assert set(FINAL_METRICS) <= set(final["metrics"]), sorted(final["metrics"])
    assert final["attempts"] == 1 and final["started_at"] and final["finished_at"]

    client = MlflowClient(service.tracking_uri)
    run = client.get_run(final["mlflow_run_id"])
    assert run.data.tags["experiment_id"] == final["id"]
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [1, 2, 3]  # each epoch logged once, 1-based like the progress
    assert run.data.metrics["test_accuracy"] == pytest.approx(final["metrics"]["accuracy"])
    artifacts = all_artifacts(client, run.info.run_id)
    assert any(path.endswith(".png") for path in artifacts), artifacts
    assert any("model" in path for path in artifacts), artifacts

    second = wait_until(service, batch[1]["id"], finished)[-1]
    assert second["status"] == "succeeded", second.get("error")
    board = service.client.get("/leaderboard", params={"dataset": "faces", "model": "cnn-small", "metric": "accuracy"})
    assert board.status_code == 200, board.text
    (entry,) = entries(board.json())
    assert set(entry["experiment_ids"]) == {final["id"], second["id"]}
    assert entry["n_seeds"] == 2 and sorted(entry["seeds"]) == [1, 2]
    values = [final["metrics"]["accuracy"], second["metrics"]["accuracy"]]
    assert entry["mean"] == pytest.approx(sum(values) / 2)
    assert entry["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5, abs=1e-9)  # sample std, n-1
    assert set(FINAL_METRICS) <= set(entry["metrics"])
    assert all(isinstance(entry["metrics"][m], int | float) for m in FINAL_METRICS)
    assert entry["experiment_id"] in entry["experiment_ids"]
    assert entry["mlflow_run_id"] in (final["mlflow_run_id"], second["mlflow_run_id"])


def test_cancel_a_running_and_a_queued_experiment(service: Service) -> None:
    (running,) = submit(service, {**TINY, "epochs": 200, "seed": 7})
    (queued,) = submit(service, {**TINY, "epochs": 1, "seed": 8})
    # The single worker is busy with the first: the second waits in the queue and is cancelled there.
    answer = service.client.post(f"/experiments/{queued['id']}/cancel")
    assert answer.status_code == 202, answer.text
    assert get(service, queued["id"])["status"] == "cancelled"

    wait_until(service, running["id"], lambda e: e["status"] == "running" and (e.get("progress") or {}).get("epoch", 0) >= 1)
    assert service.client.post(f"/experiments/{running['id']}/cancel").status_code == 202
    started = time.monotonic()
    final = wait_until(service, running["id"], finished, timeout_s=60)[-1]
    assert final["status"] == "cancelled"
    assert time.monotonic() - started < 30  # cooperative: within a batch or so, not at the end of 200 epochs
    assert final["progress"]["epoch"] < 200
    run = MlflowClient(service.tracking_uri).get_run(final["mlflow_run_id"])
    assert run.info.status != "RUNNING"

    # The queued one's message still reaches the worker, which must not start it.
    deadline = time.monotonic() + 60
    while f"experiment {queued['id']} not claimable" not in service.worker.log():
        assert time.monotonic() < deadline, "the cancelled experiment's message never reached the worker"
        time.sleep(0.2)
    again = get(service, queued["id"])
    assert again["status"] == "cancelled" and not again.get("started_at") and again["attempts"] == 0
    # And cancelling a finished experiment is refused.
    assert service.client.post(f"/experiments/{running['id']}/cancel").status_code == 409


def entries(board: Any) -> list[dict[str, Any]]:
    if isinstance(board, dict):
        for key in ("entries", "items", "results"):
            if key in board:
                return list(board[key])
    return list(board)


def all_artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    found: list[str] = []
    for item in client.list_artifacts(run_id, path):
        found.extend(all_artifacts(client, run_id, item.path) if item.is_dir else [item.path])
    return found
