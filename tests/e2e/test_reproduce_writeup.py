"""`ferbench reproduce writeup --quick` end to end: the CLI against a real uvicorn API, Redis, a Celery worker,
Keras and an MLflow server, on synthetic faces with one epoch, one seed and two small write-up models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ferbench.testing.live_api import ROOT, live_api
from tests.e2e.conftest import DATASET, Service

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)  # the SQL is the API tests' (both backends)
def test_reproduce_writeup_quick_prints_the_writeups_figures_beside_ours_logs_and_serves_them(
        service: Service, tmp_path: Path) -> None:
    settings = service.settings
    assert service.client.get("/reports/writeup").status_code == 404
    with live_api(home=Path(settings.home), database_url=settings.resolved_database_url,
                  broker_url=str(settings.broker_url), extra_env={"MLFLOW_TRACKING_URI": service.tracking_uri}) as api:
        done = subprocess.run(
            [sys.executable, "-m", "ferbench.cli.main", "reproduce", "writeup", "--quick",  # one seed: the quick default
             "--epochs", "1", "--models", "cnn-lstm,cnn-small", "--dataset", DATASET, "--api-url", api.url,
             "--out", str(tmp_path / "out"), "--json", "--poll", "0.5"],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stderr[-3000:]}\nworker:\n{service.worker.log()[-3000:]}"
    assert "[2/2 finished" in done.stderr and "ETA" in done.stderr
    report = json.loads(done.stdout)
    assert report["quick"] is True and report["title"].startswith("QUICK run") and report["seeds"] == 1
    assert [r["model"] for r in report["rows"]] == ["cnn-lstm", "cnn-small"]
    lstm, small = report["rows"]
    assert lstm["reported_accuracy"] == 0.26 and small["reported_accuracy"] is None
    assert all(r["seeds"] == 1 and r["quick"] and r["accuracy"]["mean"] is not None and r["params"] for r in report["rows"])
    assert "epochs 1 (recipe 50)" in lstm["deviations"][0]
    table = (tmp_path / "out" / "table.md").read_text()
    assert table == report["markdown"] and table.startswith("## QUICK run")
    assert "| cnn-lstm | 26.0% | - |" in table and "| cnn-small | - | - |" in table
    assert (tmp_path / "out" / "table.png").read_bytes()[:4] == b"\x89PNG"

    run = MlflowClient(service.tracking_uri).get_run(report["mlflow_run_id"])
    assert run.data.params["quick"] == "True" and run.data.params["dataset"] == DATASET
    assert run.data.params["experiment_ids"] == ",".join(report["experiment_ids"])
    artifacts = {a.path for a in MlflowClient(service.tracking_uri).list_artifacts(run.info.run_id, "report")}
    assert artifacts == {"report/table.md", "report/table.png"}

    served = service.client.get("/reports/writeup").json()
    assert served["id"] == report["id"] and served["quick"] is True and served["markdown"] == table
    png = service.client.get("/reports/writeup.png")
    assert png.status_code == 200 and png.content == (tmp_path / "out" / "table.png").read_bytes()
