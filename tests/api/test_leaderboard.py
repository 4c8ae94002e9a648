"""GET /leaderboard through HTTP: ranking, filters, seed aggregation, links to experiments and MLflow runs."""

from __future__ import annotations

import statistics

from fastapi.testclient import TestClient

from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from tests.api.conftest import MakeClient


def finish_all(db_url: str, experiments: list[dict], accuracies: list[float], latency: list[float]) -> None:
    session = make_session_factory(db_url)()
    try:
        for exp, acc, ms in zip(experiments, accuracies, latency, strict=True):
            lifecycle.claim_experiment(session, exp["id"])
            lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
                metrics={"accuracy": acc, "inference_ms": ms}, split_fingerprint="fp",
                mlflow_run_id=f"run-{exp['id'][:6]}"))
    finally:
        session.close()


def test_leaderboard_ranks_aggregates_seeds_and_links_runs(make_client: MakeClient, db_url: str) -> None:
    client = make_client(mlflow_tracking_uri="http://mlflow:5000")
    base = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}
    seeds = client.post("/experiments", json={**base, "repeats": 3}).json()
    vgg = client.post("/experiments", json={**base, "model": "vgg19"}).json()
    finish_all(db_url, [*seeds, vgg], [0.5, 0.6, 0.7, 0.55], [1.0, 1.0, 1.0, 8.0])

    board = client.get("/leaderboard", params={"dataset": "synthetic", "metric": "accuracy"}).json()
    assert board["order"] == "desc"
    top, second = board["entries"]
    assert top["model"] == "cnn-small" and top["n_seeds"] == 3 and sorted(top["seeds"]) == [0, 1, 2]
    assert abs(top["mean"] - statistics.mean([0.5, 0.6, 0.7])) < 1e-9
    assert abs(top["std"] - statistics.stdev([0.5, 0.6, 0.7])) < 1e-9
    assert set(top["experiment_ids"]) == {e["id"] for e in seeds}
    assert top["experiment_url"] == f"/experiments/{top['experiment_id']}"
    assert top["mlflow_url"] == f"http://mlflow:5000/#/runs/{top['mlflow_run_id']}"
    assert client.get(top["experiment_url"]).json()["mlflow_run_id"] == top["mlflow_run_id"]
    assert second["model"] == "vgg19" and second["std"] is None

    fastest = client.get("/leaderboard", params={"metric": "inference_ms"}).json()
    assert fastest["order"] == "asc" and fastest["entries"][0]["model"] == "cnn-small"
    only_vgg = client.get("/leaderboard", params={"model": "vgg19"}).json()["entries"]
    assert [e["model"] for e in only_vgg] == ["vgg19"]
    assert client.get("/leaderboard", params={"dataset": "fer2013"}).json()["entries"] == []
    assert len(client.get("/leaderboard", params={"limit": 1}).json()["entries"]) == 1
    assert client.get("/leaderboard", params={"split_fingerprint": "other"}).json()["entries"] == []


def test_leaderboard_rejects_unknown_metrics_and_bad_limits(client: TestClient) -> None:
    bad = client.get("/leaderboard", params={"metric": "loss"})
    assert bad.status_code == 422 and "accuracy" in bad.text
    assert client.get("/leaderboard", params={"limit": 0}).status_code == 422
    assert client.get("/leaderboard", params={"best_per_model": "maybe"}).status_code == 422


def test_one_ranking_per_protocol_with_recipe_and_protocol_columns(make_client: MakeClient, db_url: str) -> None:
    client = make_client()
    base = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}
    carved, official, other = [client.post("/experiments", json={**base, "learning_rate": lr}).json()
                               for lr in (1e-3, 1e-2, 1e-4)]
    session = make_session_factory(db_url)()
    try:
        for exp, acc, protocol, split in ((carved, 0.9, "holdout", "carved"), (official, 0.6, "official", "kaggle"),
                                          (other, 0.7, "official", "kaggle")):
            lifecycle.claim_experiment(session, exp["id"])
            lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
                metrics={"accuracy": acc}, split_fingerprint=split, protocol=protocol))
    finally:
        session.close()

    board = client.get("/leaderboard", params={"dataset": "synthetic"}).json()
    assert board["protocol"] == "official"
    assert [(e["rank"], e["mean"], e["protocol"], e["recipe"]) for e in board["entries"]] == [
        (1, 0.7, "official", None), (2, 0.6, "official", None)]
    holdout = client.get("/leaderboard", params={"dataset": "synthetic", "protocol": "holdout"}).json()
    assert holdout["protocol"] == "holdout" and [(e["rank"], e["mean"]) for e in holdout["entries"]] == [(1, 0.9)]
    empty = client.get("/leaderboard", params={"dataset": "fer2013"}).json()
    assert empty["protocol"] == "holdout" and empty["entries"] == []
    assert client.get("/leaderboard", params={"recipe": "paper"}).json()["entries"] == []
    bad = client.get("/leaderboard", params={"protocol": "80/10/10"})
    assert bad.status_code == 422 and "official" in bad.text and "holdout" in bad.text
    assert client.get("/leaderboard", params={"recipe": "r" * 65}).status_code == 422
