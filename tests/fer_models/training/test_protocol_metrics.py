"""FER2013's official protocol in the engine: metrics on PublicTest and PrivateTest apart, and the protocol tag."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from fer_models.training.engine import run_experiment
from fer_models.training.spec import parse_spec
from tests.support.fer_data import write_usage_csv

PART_METRICS = ("public_accuracy", "private_accuracy", "public_f1_macro", "private_f1_macro")


def test_public_and_private_test_metrics_are_computed_and_logged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_usage_csv(data_dir / "fer2013.csv")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    spec = parse_spec({"model": "cnn-small", "dataset": "fer2013", "epochs": 1, "batch_size": 32, "seed": 0,
                       "hyperparameters": {"filters": 4}})
    result = run_experiment(spec, work_dir=tmp_path / "work", data_dir=data_dir, cache_dir=tmp_path / "cache",
                            tracking_uri=uri)
    assert result.status == "succeeded" and result.protocol == "official"
    for name in PART_METRICS:
        assert 0.0 <= result.metrics[name] <= 1.0
    # 21 public and 21 private images: the whole test set's accuracy is the mean of the two parts'.
    mean = (result.metrics["public_accuracy"] + result.metrics["private_accuracy"]) / 2
    assert result.metrics["accuracy"] == pytest.approx(mean)
    run = MlflowClient(tracking_uri=uri).get_run(result.mlflow_run_id)
    assert run.data.tags["protocol"] == "official"
    for name in PART_METRICS:
        assert run.data.metrics[f"test_{name}"] == pytest.approx(result.metrics[name])
