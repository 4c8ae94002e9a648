"""POST/GET /sweeps and cancel through the real app (both backends, real Redis): what is queued, what is refused."""

from __future__ import annotations

from typing import Any

from pathlib import Path

import redis
from fastapi.testclient import TestClient

from ferbench.db import sweeps
from ferbench.db.session import make_session_factory
from ferbench.services.mlflow_server import MlflowServer
from tests.api.conftest import MakeClient, queued_task_ids
from tests.api.test_pages import _run_with_plots

BASE = {"model": "cnn-small", "dataset": "synthetic", "epochs": 2, "batch_size": 16}
SPACE = {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
         "hp.filters": {"kind": "choice", "values": [8, 16]}}


def _sweep(**overrides: Any) -> dict[str, Any]:
    return {"base": BASE, "space": SPACE, "n_trials": 5, "parallel": 2, **overrides}


def _locs(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(map(str, e["loc"])): e["msg"] for e in response.json()["detail"]}


def test_a_sweep_queues_its_first_parallel_trials_as_experiments(client: TestClient, broker: redis.Redis) -> None:
    created = client.post("/sweeps", json=_sweep(sampler="random", seeds=2))
    assert created.status_code == 202, created.text
    sweep = created.json()
    assert sweep["status"] == "running" and sweep["direction"] == "maximize" and sweep["objective"] == "val_accuracy"
    assert [t["number"] for t in sweep["trials"]] == [0, 1]
    experiments = [e for t in sweep["trials"] for e in t["experiments"]]
    assert len(experiments) == 4 and sorted(e["seed"] for e in experiments) == [0, 0, 1, 1]
    assert sorted(queued_task_ids(broker)) == sorted(e["id"] for e in experiments)
    for trial in sweep["trials"]:
        assert 1e-4 <= trial["params"]["learning_rate"] <= 1e-2 and trial["params"]["hp.filters"] in (8, 16)
        assert trial["spec"]["learning_rate"] == trial["params"]["learning_rate"]
        assert trial["spec"]["hyperparameters"]["filters"] == trial["params"]["hp.filters"]
        assert trial["spec"]["hyperparameters"]["dense_units"] == 128  # the model's defaults fill the rest
    # Each trial is an ordinary experiment, shown as such.
    one = client.get(experiments[0]["experiment_url"]).json()
    assert one["status"] == "queued" and one["spec"]["model"] == "cnn-small"
    listed = client.get("/sweeps").json()
    assert listed["total"] == 1 and listed["items"][0]["trials"] is None
    assert listed["items"][0]["trial_states"] == {"running": 2}


def test_cancel_cancels_the_queued_trials_and_refuses_a_second_time_once_ended(client: TestClient) -> None:
    sweep = client.post("/sweeps", json=_sweep()).json()
    cancelled = client.post(f"/sweeps/{sweep['id']}/cancel")
    assert cancelled.status_code == 202
    body = cancelled.json()
    assert {e["status"] for t in body["trials"] for e in t["experiments"]} == {"cancelled"}
    # No trial was running: the sweep ends at once, its trials cancelled, none opened in their place.
    assert body["status"] == "cancelled" and body["trial_states"] == {"cancelled": 2} and body["finished_at"]
    assert client.get(f"/sweeps/{sweep['id']}").json()["status"] == "cancelled"
    assert client.post(f"/sweeps/{sweep['id']}/cancel").status_code == 409
    assert client.post("/sweeps/nope/cancel").status_code == 404
    assert client.get("/sweeps/nope").status_code == 404


def test_every_bad_field_is_named_in_one_422_before_anything_is_queued(client: TestClient, broker: redis.Redis) -> None:
    body = _sweep(
        space={"learning_rat": {"kind": "float", "low": 0.1, "high": 0.2},
               "hp.filterz": {"kind": "choice", "values": [8]},
               "optimizer": {"kind": "choice", "values": []},
               "weight_decay": {"kind": "float", "low": 0.5, "high": 0.1},
               "learning_rate": {"kind": "log", "low": 0, "high": 0.1},
               "epochs": {"kind": "int", "low": 1, "high": 5000},
               "seed": {"kind": "int", "low": 0, "high": 3}},
        n_trials=100_000, parallel=1000, objective="test_accuracy")
    errors = _locs(client.post("/sweeps", json=body))
    assert "unknown field 'learning_rat'" in errors["body.space.learning_rat"]
    assert "learning_rate" in errors["body.space.learning_rat"]
    assert "hp.filters" in errors["body.space.hp.filterz"]
    assert "empty choice" in errors["body.space.optimizer.values"]
    assert "low must be below high" in errors["body.space.weight_decay.low"]
    assert "log range needs low > 0" in errors["body.space.learning_rate.low"]
    assert "leaves no valid spec" in errors["body.space.epochs"] and "epochs" in errors["body.space.epochs"]
    assert "fixed for a whole sweep" in errors["body.space.seed"]
    assert "cap" in errors["body.n_trials"] and "cap" in errors["body.parallel"]
    assert "never tunes on the test split" in errors["body.objective"]
    assert queued_task_ids(broker) == []
    assert client.get("/sweeps").json()["total"] == 0


def test_a_bad_base_spec_and_an_overfull_grid_are_refused(client: TestClient) -> None:
    errors = _locs(client.post("/sweeps", json=_sweep(base={**BASE, "model": "nope"}, objective="accuracy")))
    assert "body.base.model" in errors and "test split" in errors["body.objective"]
    grid = _sweep(sampler="grid", space={"hp.filters": {"kind": "choice", "values": [8, 16]},
                                         "learning_rate": {"kind": "log", "low": 1e-3, "high": 1e-2}})
    errors = _locs(client.post("/sweeps", json=grid))
    assert "grid search needs a choice" in errors["body.space.learning_rate"]
    errors = _locs(client.post("/sweeps", json={**grid, "space": {"hp.filters": grid["space"]["hp.filters"]}}))
    assert "the grid has 2 points" in errors["body.n_trials"]
    assert _locs(client.post("/sweeps", json={**_sweep(), "space": {}}))["body.space"]


def test_the_parent_runs_plots_are_listed_and_proxied(make_client: MakeClient, db_url: str,
                                                      mlflow_server: MlflowServer, tmp_path: Path) -> None:
    client = make_client(mlflow_tracking_uri=mlflow_server.url)
    sweep = client.post("/sweeps", json=_sweep()).json()
    assert client.get(f"/sweeps/{sweep['id']}/plots").json() == {"sweep_id": sweep["id"], "mlflow_run_id": None,
                                                                  "plots": []}  # no parent run yet
    run_id, png = _run_with_plots(mlflow_server.url, tmp_path)
    session = make_session_factory(db_url)()
    try:
        sweeps.set_parent_run(session, sweep["id"], run_id)
    finally:
        session.close()
    listed = client.get(f"/sweeps/{sweep['id']}/plots").json()
    assert listed["plots"] == [{"name": "confusion_matrix.png",
                                "url": f"/sweeps/{sweep['id']}/plots/confusion_matrix.png"}]
    image = client.get(listed["plots"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == png
    for name in ("notes.txt", "missing.png", "..%2F..%2Fetc%2Fpasswd"):
        assert client.get(f"/sweeps/{sweep['id']}/plots/{name}").status_code == 404, name
    assert client.get("/sweeps/nope/plots").status_code == 404
