"""POST and GET /reports/writeup through HTTP: 404 before any, the table from finished write-up experiments."""

from __future__ import annotations

from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from tests.api.conftest import MakeClient


def finish(db_url: str, experiments: list[dict], accuracies: list[float]) -> None:
    session = make_session_factory(db_url)()
    try:
        for exp, acc in zip(experiments, accuracies, strict=True):
            lifecycle.claim_experiment(session, exp["id"])
            lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
                metrics={"accuracy": acc, "f1_macro": acc - 0.1, "params": 1000.0, "train_seconds": 5.0},
                split_fingerprint="fp"))
    finally:
        session.close()


def test_the_writeup_report_is_made_from_finished_writeup_experiments_and_served(make_client: MakeClient,
                                                                                 db_url: str) -> None:
    client = make_client(mlflow_tracking_uri=None)
    none_yet = client.get("/reports/writeup")
    assert none_yet.status_code == 404 and "ferbench reproduce writeup" in none_yet.json()["detail"]
    assert client.get("/reports/writeup.png").status_code == 404

    quick = {"recipe": "writeup-cnn-lstm", "dataset": "synthetic", "epochs": 1, "time_budget_minutes": 1.0}
    seeds = client.post("/experiments", json={**quick, "repeats": 2}).json()
    plain = client.post("/experiments", json={"model": "cnn-small", "dataset": "synthetic", "epochs": 1}).json()
    ids = [e["id"] for e in seeds]
    early = client.post("/reports/writeup", json={"experiment_ids": ids})
    assert early.status_code == 409 and ids[0] in early.json()["detail"]
    finish(db_url, [*seeds, plain], [0.5, 0.7, 0.4])
    stranger = client.post("/reports/writeup", json={"experiment_ids": [*ids, plain["id"]]})
    assert stranger.status_code == 422 and plain["id"] in stranger.json()["detail"]
    assert client.post("/reports/writeup", json={"experiment_ids": ["nope"]}).status_code == 422
    assert client.post("/reports/writeup", json={"experiment_ids": []}).status_code == 422

    made = client.post("/reports/writeup", json={"experiment_ids": ids})
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["quick"] is True and report["title"].startswith("QUICK") and report["seeds"] == 2
    (row,) = report["rows"]
    assert row["model"] == "cnn-lstm" and row["reported_accuracy"] == 0.26 and row["quick"] is True
    assert abs(row["accuracy"]["mean"] - 0.6) < 1e-9 and row["accuracy"]["std"] is not None
    assert "| cnn-lstm | 26.0% | - | 60.0 ± 14.1% |" in report["markdown"]
    assert report["mlflow_run_id"] is None and "MLFLOW_TRACKING_URI" in report["mlflow_error"]

    latest = client.get("/reports/writeup").json()
    assert latest["id"] == report["id"] and latest["markdown"] == report["markdown"]
    png = client.get(report["png_url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert client.get("/reports/writeup", params={"id": "other"}).status_code == 404
