"""Training in a child process: results and progress come back; a child killed by a signal is named,
and its MLflow run ends FAILED."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from fer_models.errors import DatasetError
from fer_models.training.child_process import TrainingProcessDied, exit_description, run_experiment_in_child
from fer_models.training.hooks import Progress, RunHooks
from fer_models.training.spec import parse_spec

# An odd batch that leaves a partial last batch of the training split.
TINY = {"model": "cnn-small", "dataset": "tiny", "epochs": 2, "batch_size": 33, "seed": 1}


def _run(data_dir: Path, tmp_path: Path, hooks: RunHooks | None = None, tracking_uri: str | None = None,
         **spec: object):
    return run_experiment_in_child(parse_spec({**TINY, **spec}), work_dir=tmp_path / "work", data_dir=data_dir,
                                   cache_dir=tmp_path / "cache", tracking_uri=tracking_uri, hooks=hooks)


def test_result_and_progress_come_back_from_the_child(data_dir: Path, tmp_path: Path) -> None:
    seen: list[Progress] = []
    result = _run(data_dir, tmp_path, RunHooks(on_progress=seen.append, progress_every_batches=1))
    assert result.status == "succeeded" and result.epochs_completed == 2
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert seen and seen[-1].epoch == 2 and seen[-1].batch == seen[-1].batches
    assert not multiprocessing.active_children()


def test_a_user_error_in_the_child_is_raised_here_with_its_class(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no-such-dataset"):
        _run(data_dir, tmp_path, dataset="no-such-dataset")


def test_a_child_killed_by_a_signal_is_named_and_its_mlflow_run_fails(data_dir: Path, tmp_path: Path,
                                                                     mlflow_server) -> None:
    run_ids: list[str | None] = []

    def crash(progress: Progress) -> None:  # what a segfault in TensorFlow's native code looks like from here
        for child in multiprocessing.active_children():
            if child.name == "ferbench-train":
                os.kill(child.pid, signal.SIGSEGV)

    hooks = RunHooks(on_run_started=run_ids.append, on_progress=crash, progress_every_batches=1)
    with pytest.raises(TrainingProcessDied, match=r"^the training process was killed by SIGSEGV in epoch 1 of 2"):
        _run(data_dir, tmp_path, hooks, tracking_uri=mlflow_server.url, epochs=2)
    (run_id,) = run_ids
    run = MlflowClient(tracking_uri=mlflow_server.url).get_run(run_id)
    assert run.info.status == "FAILED"
    assert "SIGSEGV" in run.data.tags["error"]


def test_exit_descriptions() -> None:
    assert exit_description(-signal.SIGABRT) == "killed by SIGABRT"
    assert exit_description(3) == "exited with status 3"
