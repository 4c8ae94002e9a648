"""The reaper's pass over sweeps on a real (SQLite) database and a real tracking server: a trial the reaper fails
still opens the next one and the sweep ends; a sweep the API's cancel ended gets its MLflow parent run closed
exactly once however many workers' reapers find it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import update

from ferbench.db import sweeps
from ferbench.db.migrate import upgrade
from ferbench.db.models import Experiment, Sweep, utcnow
from ferbench.settings import Settings, get_settings
from ferbench.sweeps.advance import start_sweep, sync_sweep
from ferbench.sweeps.tracking import create_parent_run
from tests.ferbench.db.test_sweeps import Sent, new_sweep
from worker import records
from worker.reaper import reap_once
from worker.sweep_trials import catch_up


def _settings() -> Settings:
    current = get_settings()  # FERBENCH_HOME is a fresh folder per test (tests/conftest.py)
    upgrade(current.resolved_database_url)
    return current


def _start(settings: Settings, sent: Sent, **overrides: object) -> Sweep:
    with records.session_scope() as session:
        sweep = start_sweep(session, settings.resolved_database_url, new_sweep(**overrides), sent)
        session.expunge(sweep)
        return sweep


def _set(experiment_id: str, **values: object) -> None:
    with records.session_scope() as session:
        session.execute(update(Experiment).where(Experiment.id == experiment_id).values(**values))


def _sweep_row(sweep_id: str) -> Sweep:
    with records.session_scope() as session:
        row = sweeps.get_sweep(session, sweep_id)
        session.expunge(row)
        return row


def test_a_trial_the_reaper_fails_opens_the_next_and_the_sweep_still_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = _settings()
    sent = Sent()
    sweep = _start(settings, sent, n_trials=2, parallel=1, pruner={"kind": "none"})
    (lost,) = sent
    # Its worker's host vanished on the last attempt: no redelivery will ever come.
    _set(lost, status="running", worker="gone-host:1", attempts=settings.max_attempts,
         heartbeat_at=utcnow() - timedelta(seconds=settings.heartbeat_stale_s + 5))
    report = reap_once(settings, sent.append)
    assert report.failed == [lost] and len(sent) == 2  # the same pass opened trial 1
    with records.session_scope() as session:
        assert [v.trial.state for v in sweeps.trials_of(session, sweep.id)] == ["failed", "running"]
    _set(sent[1], status="succeeded", sweep_value=0.5, finished_at=utcnow())
    reap_once(settings, sent.append)
    ended = _sweep_row(sweep.id)
    assert ended.status == "succeeded" and len(sent) == 2
    reap_once(settings, sent.append)  # nothing left to do: no trial beyond n_trials
    assert len(sent) == 2


def test_a_sweep_ended_by_the_api_cancel_has_its_parent_run_closed_once(mlflow_tracking_uri: str) -> None:
    settings = _settings()
    sent = Sent()
    sweep = _start(settings, sent, n_trials=4, parallel=2)
    parent = records.set_sweep_parent_run(sweep.id, create_parent_run(mlflow_tracking_uri, sweep))
    with records.session_scope() as session:  # what POST /sweeps/{id}/cancel does with no trial running
        sweeps.request_cancel(session, sweep.id)
        assert sync_sweep(session, settings.resolved_database_url, sweep.id, sent).finished == "cancelled"
    assert MlflowClient(mlflow_tracking_uri).get_run(parent).info.status == "RUNNING"
    assert not _sweep_row(sweep.id).parent_run_closed

    passes = [threading.Thread(target=catch_up, args=(settings, sent.append)) for _ in range(3)]  # three workers
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join()
    catch_up(settings, sent.append)  # and a later pass
    client = MlflowClient(mlflow_tracking_uri)
    run = client.get_run(parent)
    assert run.info.status == "KILLED" and run.data.metrics["trials_cancelled"] == 2
    assert len(client.get_metric_history(parent, "trials_cancelled")) == 1  # summarised once
    assert _sweep_row(sweep.id).parent_run_closed and len(sent) == 2  # and nothing opened


def test_a_pruned_trial_ends_pruned_with_its_mlflow_run_tagged_and_the_next_trial_opened(
        mlflow_tracking_uri: str) -> None:
    from ferbench.sweeps import study
    from worker.execution import execute_experiment

    settings = _settings()
    sent = Sent()
    sweep = _start(settings, sent, base_spec={**new_sweep().base_spec, "dataset": "synthetic", "epochs": 3},
                   n_trials=3, parallel=2, pruner={"kind": "median", "startup_trials": 1})
    config = study.StudyConfig.of(sweep)
    with records.session_scope() as session:
        first = sweeps.trials_of(session, sweep.id)[0].trial.optuna_trial_id
    # Trial 0 was perfect at every epoch: a real run below it after epoch 1 is below the median there.
    perfect = study.TrialReporter(settings.resolved_database_url, config, first, "val_accuracy")
    for epoch in (1, 2, 3):
        perfect.report(epoch, {"val_accuracy": 1.0})
    study.tell(settings.resolved_database_url, config, first, "complete", 1.0)

    assert execute_experiment(sent[1], settings, requeue=sent.append) == "pruned"
    with records.session_scope() as session:
        row = session.get(Experiment, sent[1])
        assert (row.status, row.stopped_reason) == ("pruned", "pruned after epoch 1")
        run_id = row.mlflow_run_id
    run = MlflowClient(mlflow_tracking_uri).get_run(run_id)
    assert run.data.tags["ferbench.pruned"] == "true" and run.data.tags["ferbench.pruned_after_epoch"] == "1"
    assert run.data.tags["mlflow.parentRunId"] == _sweep_row(sweep.id).mlflow_run_id
    assert len(sent) == 3  # trial 2 took its place
