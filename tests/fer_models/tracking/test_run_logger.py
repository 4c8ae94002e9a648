"""RunLogger against a real `mlflow server` (the session fixture from tests/support)."""

import math
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from fer_models.tracking.run_logger import RunLogger, experiment_name_for, flatten
from ferbench.services.mlflow_server import health_ok, prepare_store


def test_flatten_gives_dotted_string_params() -> None:
    assert flatten({"a": 1, "b": {"c": None, "d": [1, 2]}, "e": {}}) == {"a": "1", "b.c": "none", "b.d": "[1, 2]", "e": "{}"}


def test_open_log_finish_and_reopen_the_same_run(mlflow_server) -> None:
    assert health_ok(mlflow_server.url)
    logger = RunLogger(mlflow_server.url)
    run_id = logger.open("unit", run_id=None, run_name="r", tags={"model": "m", "experiment_id": "x1"})
    logger.log_params({"epochs": 3, "hyperparameters": {"dropout": 0.3}})
    logger.log_metrics({"loss": 1.5, "roc_auc_macro": math.nan}, step=1)
    logger.log_json({"k": 1}, "report.json")
    logger.finish("KILLED")
    client = MlflowClient(tracking_uri=mlflow_server.url)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert client.get_experiment(run.info.experiment_id).name == experiment_name_for("unit")
    assert run.data.params == {"epochs": "3", "hyperparameters.dropout": "0.3"}
    assert run.data.metrics == {"loss": 1.5}  # NaN (undefined) is not logged
    assert {a.path for a in client.list_artifacts(run_id)} == {"report.json"}

    again = RunLogger(mlflow_server.url)
    assert again.open("unit", run_id=run_id, run_name="r", tags={"attempt": "2"}) == run_id
    assert client.get_run(run_id).info.status == "RUNNING"
    again.log_params({"epochs": 3, "hyperparameters": {"dropout": 0.3}, "extra": "x"})  # write-once params: no clash
    again.finish("FAILED", error="TrainingError: diverged at epoch 1, batch 2")
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["error"].startswith("TrainingError: diverged")
    assert run.data.params["extra"] == "x" and run.data.tags["attempt"] == "2"


def test_prepare_store_is_idempotent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    prepare_store(uri, tmp_path.as_uri())
    prepare_store(uri, tmp_path.as_uri())
    assert MlflowClient(tracking_uri=uri).get_experiment("0") is not None


def test_file_uri_is_refused() -> None:
    from fer_models.tracking.uri import TrackingError

    with pytest.raises(TrackingError):
        RunLogger("file:///tmp/mlruns")
