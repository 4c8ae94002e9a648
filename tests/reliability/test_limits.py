"""Cancellation and time limits: a running job cancelled, the per-experiment budget, the server's hard cap.

Cancel and budget run the worker's task body in this process (they are cooperative, inside the
engine); the hard cap needs a real worker, whose pool process Celery kills.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ferbench.db import experiments
from ferbench.db.migrate import upgrade
from ferbench.services.mlflow_server import MlflowServer
from ferbench.settings import Settings, get_settings
from ferbench.testing.face_folders import write_face_folders
from tests.reliability.cluster import DATASET, TINY, Cluster, local_counts, record_fault
from tests.reliability.conftest import cluster
from worker import records
from worker.execution import execute_experiment

pytestmark = [pytest.mark.services, pytest.mark.slow]


def counts(mlflow_server: MlflowServer) -> dict[str, int]:
    with records.session_scope() as session:
        return local_counts(session, mlflow_server)


@pytest.fixture
def local(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The task body in this process, on SQLite, against the session's tracking server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    get_settings.cache_clear()
    settings = get_settings()
    write_face_folders(settings.data_dir, DATASET, n=210)
    upgrade(settings.resolved_database_url)
    yield settings


def create(**spec: object) -> str:
    with records.session_scope() as session:
        return experiments.create_experiments(session, [{**TINY, **spec}], enqueue=lambda _id: None).experiments[0].id


def load(experiment_id: str):  # noqa: ANN201 - an Experiment row, detached
    with records.session_scope() as session:
        row = experiments.get_experiment(session, experiment_id)
        session.expunge(row)
        return row


def test_cancelling_a_running_job_stops_it_within_a_batch_and_keeps_its_checkpoint_and_metrics(
        local: Settings, mlflow_server: MlflowServer) -> None:
    before = counts(mlflow_server)
    experiment_id = create(epochs=100, seed=21)
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(execute_experiment(experiment_id, local)))
    runner.start()
    deadline = time.monotonic() + 120
    while (load(experiment_id).progress or {}).get("epoch", 0) < 2:
        assert runner.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.05)
    with records.session_scope() as session:
        experiments.request_cancel(session, experiment_id)
    asked = time.monotonic()
    runner.join(60)
    assert outcome == ["cancelled"]
    # The flag is read at most once a second, then the next batch boundary stops the run.
    assert time.monotonic() - asked < 5
    row = load(experiment_id)
    assert row.status == "cancelled" and row.cancel_requested
    run = MlflowClient(local.mlflow_tracking_uri).get_run(row.mlflow_run_id)
    assert run.info.status == "KILLED"
    state = json.loads((Path(local.runs_dir) / experiment_id / "checkpoint.json").read_text())
    done = state["epochs_completed"]
    assert 2 <= done < 100 and (Path(local.runs_dir) / experiment_id / state["model_file"]).exists()
    steps = sorted(m.step for m in MlflowClient(local.mlflow_tracking_uri).get_metric_history(run.info.run_id, "loss"))
    assert steps == list(range(1, done + 1))  # every completed epoch's metrics kept, once each
    record_fault("cancel a running job", "experiments.request_cancel (what POST /experiments/{id}/cancel calls) after epoch 2 of 100",
                 f"stopped {time.monotonic() - asked:.1f} s later at a batch boundary; status cancelled, MLflow run "
                 f"KILLED, checkpoint of epoch {done} and its {done} per-epoch metrics kept; no result row",
                 before, counts(mlflow_server))


def test_the_time_budget_stops_gracefully_and_evaluates_the_best_checkpoint(
        local: Settings, mlflow_server: MlflowServer) -> None:
    before = counts(mlflow_server)
    experiment_id = create(epochs=200, seed=22, time_budget_minutes=0.2)  # 12 s: epochs end before the budget
    assert execute_experiment(experiment_id, local) == "succeeded"
    row = load(experiment_id)
    assert row.status == "succeeded" and row.stopped_reason == "time_budget"
    with records.session_scope() as session:
        result = experiments.get_result(session, experiment_id)
        assert result is not None and result.accuracy is not None
    run = MlflowClient(local.mlflow_tracking_uri).get_run(row.mlflow_run_id)
    assert run.info.status == "FINISHED"
    completed = int(run.data.metrics["epochs_completed"])
    assert 1 <= completed < 200
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.accuracy)
    record_fault("per-experiment time budget", "time_budget_minutes=0.2 on a 200-epoch spec",
                 f"stopped after {completed} epochs, evaluated on the best checkpoint, status succeeded with "
                 "stopped_reason time_budget; one result row, MLflow run FINISHED", before, counts(mlflow_server))


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("hard-cap"), mlflow=mlflow_server, n_faces=210,
                 task_hard_time_limit_s=HARD_CAP_S, task_soft_time_limit_s=10_000, heartbeat_interval_s=1) as built:
        built.start_worker("capped-worker")
        yield built


HARD_CAP_S = 15


def test_the_server_hard_cap_kills_the_process_and_fails_the_experiment(capped: Cluster) -> None:
    before = capped.counts()
    experiment_id = capped.submit(epochs=500, seed=23)
    capped.wait(experiment_id, lambda r: r.status == "running", what="running")
    pid = capped.holder_pid(experiment_id)
    final = capped.wait_finished(experiment_id, timeout_s=HARD_CAP_S + 60)
    assert final.status == "failed"
    assert f"hard time limit of {HARD_CAP_S} s" in (final.error or ""), final.error
    assert (final.progress or {}).get("epoch", 0) < 500
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists():  # the training process is killed right after the failure is recorded
        assert time.monotonic() < deadline, f"pool process {pid} still alive after the hard cap"
        time.sleep(0.1)
    assert capped.results_for(experiment_id) == 0
    time.sleep(3)
    assert capped.row(experiment_id).status == "failed"  # and not restarted by a redelivery
    (run,) = capped.mlflow_runs_of(experiment_id)
    assert run[1] == "FAILED"  # ended by the worker's main process, not left RUNNING
    after = capped.counts()
    record_fault("server hard time cap", f"task_hard_time_limit_s={HARD_CAP_S} under a 500-epoch job",
                 "Celery killed the pool process; the main process failed the experiment with the reason and ended "
                 "its MLflow run FAILED; not redelivered", before, after)
