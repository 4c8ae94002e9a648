"""Ensembles and comparisons end to end on real processes: finished runs keep their predictions, an
ensemble is queued and combined by the Celery worker into its own MLflow run and leaderboard row, and
GET /compare tests two runs on the same test images. Bad requests are refused before anything is queued."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from fer_models.evaluation.metrics import classification_metrics
from fer_models.evaluation.predictions import Predictions
from tests.e2e.conftest import Service
from tests.e2e.test_service import finished, submit, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

TINY = {"model": "cnn-small", "dataset": "faces", "batch_size": 16, "epochs": 2}


def run_to_the_end(service: Service, experiment_id: str) -> dict[str, Any]:
    final = wait_until(service, experiment_id, finished)[-1]
    assert final["status"] == "succeeded", final.get("error")
    return final


def stored_predictions(service: Service, run_id: str) -> Predictions:
    client = MlflowClient(service.tracking_uri)
    path = client.download_artifacts(run_id, "predictions/predictions.npz")
    with open(path, "rb") as handle:
        return Predictions.from_bytes(handle.read())


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)  # the SQL is the API tests' (both backends)
def test_ensembles_combine_finished_runs_and_compare_tells_real_differences(service: Service) -> None:
    members = [run_to_the_end(service, e["id"]) for e in submit(service, {**TINY, "seed": 11, "repeats": 3})]
    a, b, c = (m["id"] for m in members)

    # Every result keeps its predictions: they reproduce the logged accuracy exactly, and carry intervals.
    for member in members:
        pred = stored_predictions(service, member["mlflow_run_id"])
        assert len(pred.val_labels) and pred.val_probs.shape == (len(pred.val_labels), 7)
        assert classification_metrics(pred.test_labels, pred.test_probs)["accuracy"] == member["metrics"]["accuracy"]
        run = MlflowClient(service.tracking_uri).get_run(member["mlflow_run_id"])
        low, high = run.data.metrics["test_accuracy_ci_low"], run.data.metrics["test_accuracy_ci_high"]
        assert low <= member["metrics"]["accuracy"] <= high and low < high

    # Compare: a run with itself is no difference at all; two runs give a paired interval and a p-value.
    same = service.client.get("/compare", params={"a": a, "b": a}).json()
    assert same["accuracy_diff"] == 0 and same["mcnemar_p"] == 1.0 and same["accuracy_diff_ci"] == [0, 0]
    pair = service.client.get("/compare", params={"a": a, "b": b})
    assert pair.status_code == 200, pair.text
    body = pair.json()
    assert body["accuracy_diff"] == pytest.approx(members[0]["metrics"]["accuracy"] - members[1]["metrics"]["accuracy"])
    assert body["accuracy_diff_ci"][0] <= body["accuracy_diff"] <= body["accuracy_diff_ci"][1]
    assert 0 < body["mcnemar_p"] <= 1 and set(body["per_class_f1_diff"]) == set(members[0]["per_class"])

    # Bad requests, refused before anything is queued.
    assert service.client.get("/compare", params={"a": a, "b": "nope"}).status_code == 404
    missing = service.client.post("/ensembles", json={"members": [a, "no-such-run"]})
    assert missing.status_code == 404 and "no-such-run" in missing.text
    assert service.client.post("/ensembles", json={"members": []}).status_code == 422
    assert service.client.post("/ensembles", json={}).status_code == 422
    too_many = service.client.post("/ensembles", json={"top": {"dataset": "faces", "k": 40}})
    assert too_many.status_code == 422 and "has 1 entry" in too_many.text, too_many.text
    other_split = run_to_the_end(service, submit(service, {**TINY, "seed": 11, "split_seed": 7})[0]["id"])
    mixed = service.client.post("/ensembles", json={"members": [a, other_split["id"]]})
    assert mixed.status_code == 422 and other_split["id"] in mixed.text and "split" in mixed.text, mixed.text

    # An ensemble of identical members is that member; a member given twice is accepted (it weighs double).
    twice = service.client.post("/ensembles", json={"members": [a, a], "method": "mean"})
    assert twice.status_code == 202, twice.text
    assert run_to_the_end(service, twice.json()["id"])["metrics"]["accuracy"] == members[0]["metrics"]["accuracy"]

    # A greedy ensemble runs through the queue like an experiment: its own MLflow run and leaderboard row.
    queued = service.client.post("/ensembles", json={"members": [a, b, c], "method": "greedy"})
    assert queued.status_code == 202, queued.text
    assert queued.json()["model"] == "ensemble" and queued.json()["family"] == "ensemble"
    ensemble = run_to_the_end(service, queued.json()["id"])
    combined = stored_predictions(service, ensemble["mlflow_run_id"])
    best_val = max(classification_metrics(p.val_labels, p.val_probs)["accuracy"]
                   for p in (stored_predictions(service, m["mlflow_run_id"]) for m in members))
    assert classification_metrics(combined.val_labels, combined.val_probs)["accuracy"] >= best_val
    run = MlflowClient(service.tracking_uri).get_run(ensemble["mlflow_run_id"])
    assert run.data.params["method"] == "greedy" and run.data.params["members"] == f"{a},{b},{c}"
    assert run.data.tags["family"] == "ensemble" and run.data.tags["member_run_ids"].split(",") == [
        m["mlflow_run_id"] for m in members]
    assert run.data.metrics["test_accuracy"] == pytest.approx(ensemble["metrics"]["accuracy"])
    assert {"test_accuracy_ci_low", "test_f1_macro_ci_high"} <= set(run.data.metrics)
    board = service.client.get("/leaderboard", params={"dataset": "faces", "family": "ensemble"}).json()
    assert {e["experiment_id"] for e in board["entries"]} >= {ensemble["id"]}
    assert all(e["ci"] is not None for e in board["entries"])
    full = service.client.get("/leaderboard", params={"dataset": "faces", "protocol": "holdout"}).json()["entries"]
    assert full[0]["differs_from_top"] is None and all(isinstance(e["differs_from_top"], bool) for e in full[1:]
                                                       if e["split_fingerprint"] == full[0]["split_fingerprint"])
    assert np.isfinite(ensemble["metrics"]["f1_macro"]) and ensemble["per_class"]  # evaluated like any run
