"""The engine on synthetic faces: reproducibility, cancel and resume, divergence, budget, bad input.

Each training is tiny (cnn-small, 2-3 epochs, batch 32) to keep the file inside its time budget.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from fer_models.errors import ResultNotLogged, TrainingError
from fer_models.tracking.uri import TrackingError
from fer_models.training.engine import run_experiment
from fer_models.training.hooks import Progress, RunHooks
from fer_models.training.spec import parse_spec

# Same spec, same seed, same process, CPU: metrics agree to this absolute tolerance (the documented one).
REPRO_TOLERANCE = 1e-5
TINY = {"model": "cnn-small", "dataset": "tiny", "epochs": 2, "batch_size": 32, "seed": 3}


@pytest.fixture
def _run(data_dir: Path):
    def run(tmp: Path, name: str, spec: dict, **kw):
        return run_experiment(parse_spec(spec), work_dir=tmp / name, data_dir=data_dir,
                              cache_dir=data_dir.parent / "cache", **kw)

    return run


def test_same_spec_and_seed_give_the_same_metrics_on_cpu(_run, tmp_path: Path) -> None:
    first = _run(tmp_path, "a", TINY)
    second = _run(tmp_path, "b", TINY)
    assert first.status == second.status == "succeeded"
    assert first.split_fingerprint == second.split_fingerprint
    for key in ("loss", "val_loss", "accuracy"):
        assert first.history[key] == pytest.approx(second.history[key], abs=REPRO_TOLERANCE)
    for key in ("accuracy", "f1_macro", "roc_auc_macro"):
        assert first.metrics[key] == pytest.approx(second.metrics[key], abs=REPRO_TOLERANCE)
    assert first.confusion_matrix == second.confusion_matrix


def test_cancel_after_epoch_2_then_resume_finishes_only_the_rest_in_the_same_run(_run, tmp_path: Path, mlflow_server) -> None:
    spec = {**TINY, "epochs": 3}
    ends: list[Progress] = []
    hooks = RunHooks(on_progress=lambda p: ends.append(p) if p.batch == p.batches else None,
                     should_stop=lambda: len(ends) >= 2)
    first = _run(tmp_path, "w", spec, tracking_uri=mlflow_server.url, hooks=hooks, tags={"experiment_id": "e-1"})
    assert (first.status, first.epochs_completed, first.stopped_reason) == ("cancelled", 2, "cancelled")
    client = MlflowClient(tracking_uri=mlflow_server.url)
    assert client.get_run(first.mlflow_run_id).info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(first.mlflow_run_id, "val_loss")] == [1, 2]

    epochs_seen: list[int] = []
    started: list[str | None] = []
    second = _run(tmp_path, "w", spec, tracking_uri=mlflow_server.url,
                  hooks=RunHooks(on_run_started=started.append, on_progress=lambda p: epochs_seen.append(p.epoch)))
    assert second.status == "succeeded" and second.epochs_completed == 3
    assert set(epochs_seen) == {3}  # only the remaining epoch ran
    assert started == [first.mlflow_run_id] == [second.mlflow_run_id]
    run = client.get_run(second.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["experiment_id"] == "e-1"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2, 3]
    assert len(second.history["loss"]) == 3
    assert "test_accuracy" in run.data.metrics
    (keras_file,) = [f for f in client.list_artifacts(run.info.run_id, "model/data") if f.path.endswith(".keras")]
    assert run.data.metrics["model_bytes"] == keras_file.file_size  # measured on the very file logged
    assert "test_train_seconds" not in run.data.metrics and run.data.metrics["train_seconds"] > 0
    # MLflow 3: the model is the run's logged model with the final metrics linked to it; the data is its input.
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.source_run_id == run.info.run_id and str(logged.status) in ("READY", "LoggedModelStatus.READY")
    linked = {m.key: m for m in logged.metrics}
    assert linked["test_accuracy"].value == pytest.approx(second.metrics["accuracy"])
    assert linked["test_accuracy"].dataset_digest == second.dataset_fingerprint
    (data,) = run.inputs.dataset_inputs
    assert (data.dataset.name, data.dataset.digest) == (spec["dataset"], second.dataset_fingerprint)
    assert json.loads(data.dataset.profile)["split_sizes"]["test"] > 0
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_tracking_failure_after_the_evaluation_carries_the_computed_metrics(
        _run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fer_models.tracking.run_logger import RunLogger

    def server_gone(*_args: object, **_kwargs: object) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(RunLogger, "log_json", server_gone)  # the final logging, after the test-set evaluation
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(ResultNotLogged, match="^ConnectionRefusedError: connection refused$") as failure:
        _run(tmp_path, "gone", {**TINY, "epochs": 1}, tracking_uri=uri)
    assert 0 <= failure.value.metrics["accuracy"] <= 1 and failure.value.metrics["model_bytes"] > 0
    assert pickle.loads(pickle.dumps(failure.value)).metrics == failure.value.metrics  # crosses processes whole
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("ferbench-tiny").experiment_id])
    assert run.info.status == "FAILED"


def test_nan_loss_fails_the_run_with_epoch_and_batch(_run, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    # Decoupled weight decay with lr * wd = 1e4 multiplies every weight by -9999 per step: inf, then NaN.
    spec = {**TINY, "optimizer": "sgd", "momentum": 0.0, "learning_rate": 1e4, "weight_decay": 1.0}
    with pytest.raises(TrainingError, match=r"diverged at epoch 1, batch \d+"):
        _run(tmp_path, "nan", spec, tracking_uri=uri)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("ferbench-tiny").experiment_id])
    assert run.info.status == "FAILED"
    assert "diverged at epoch 1, batch" in run.data.tags["error"]


def test_time_budget_holds_inside_the_first_epoch_and_the_run_still_evaluates(_run, tmp_path: Path) -> None:
    ticks: list[Progress] = []
    # 0.001 min = 60 ms: the first batch alone (tracing included) outlasts it, so the run stops inside epoch 1.
    result = _run(tmp_path, "budget", {**TINY, "epochs": 50, "time_budget_minutes": 0.001},
                  hooks=RunHooks(on_progress=ticks.append, progress_every_batches=1))
    assert result.status == "stopped_budget" and result.stopped_reason == "time_budget"
    assert result.epochs_completed == 0
    assert result.metrics["train_seconds"] >= 0.06  # the interrupted epoch's time counts
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert all(p.epoch == 1 and p.batch < p.batches for p in ticks)  # no epoch ended


def test_out_of_memory_says_so_and_suggests_a_smaller_batch(_run, tmp_path: Path) -> None:
    def boom(progress: Progress) -> None:
        raise MemoryError("simulated allocation failure")

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(TrainingError, match=r"out of memory .* batch size 32: try a smaller batch \(e.g. --batch-size 16\)"):
        _run(tmp_path, "oom", TINY, tracking_uri=uri, hooks=RunHooks(on_progress=boom, progress_every_batches=1))
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("ferbench-tiny").experiment_id])
    assert run.info.status == "FAILED"


def test_file_store_is_refused_before_any_training(_run, tmp_path: Path) -> None:
    calls: list[object] = []
    with pytest.raises(TrackingError, match="file store"):
        _run(tmp_path, "f", TINY, tracking_uri=str(tmp_path / "mlruns"), hooks=RunHooks(on_progress=calls.append))
    assert calls == [] and not (tmp_path / "f").exists()
