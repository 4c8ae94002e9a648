"""A sweep survives a worker killed mid-trial, on real processes (own Redis, tracking server, PostgreSQL database,
two Celery workers): the killed trial is redelivered and resumed, and the sweep ends with exactly its trials, none
run twice, its MLflow parent run closed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ferbench.db import sweeps
from ferbench.db.models import Sweep
from ferbench.sweeps.advance import start_sweep
from ferbench.testing.databases import postgres_database
from tests.ferbench.db.test_sweeps import new_sweep
from tests.reliability.cluster import TINY, Cluster, kill, record_fault
from tests.reliability.conftest import cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]

TRIALS, EPOCHS = 6, 3


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with postgres_database("sweepfaults") as database_url:
        with cluster(tmp_path_factory.mktemp("sweep-faults"), database_url=database_url, n_faces=420,
                     heartbeat_interval_s=1, heartbeat_stale_s=60, reaper_interval_s=2) as built:
            built.start_worker("worker-1")
            built.start_worker("worker-2")
            yield built


def _sweep(faults: Cluster, sweep_id: str) -> tuple[Sweep, list[sweeps.TrialView]]:
    with faults.session() as session:
        row = sweeps.get_sweep(session, sweep_id)
        views = sweeps.trials_of(session, sweep_id)
        session.expunge_all()
        return row, views


def _active_runs(faults: Cluster) -> int:
    return int(faults.mlflow_query("SELECT count(*) FROM runs WHERE lifecycle_stage = 'active'")[0][0])


def _wait_sweep(faults: Cluster, sweep_id: str, done: object, timeout_s: float = 420) -> list[sweeps.TrialView]:
    deadline = time.monotonic() + timeout_s
    while not done(*(found := _sweep(faults, sweep_id))):  # type: ignore[operator]
        assert time.monotonic() < deadline, faults.logs()
        time.sleep(0.1)
    return found[1]


def test_a_worker_killed_mid_trial_still_ends_the_sweep_with_exactly_its_trials_none_run_twice(
        two_workers: Cluster) -> None:
    faults = two_workers
    before = faults.counts()
    active_before = _active_runs(faults)
    row = new_sweep(base_spec={**TINY, "epochs": EPOCHS}, dataset=TINY["dataset"], n_trials=TRIALS, parallel=2,
                    pruner={"kind": "none"})
    with faults.session() as session:
        sweep_id = start_sweep(session, faults.database_url, row, faults.enqueue).id

    def epoch_1_done(_sweep: Sweep, views: list[sweeps.TrialView]) -> bool:
        return any(e.status == "running" and (e.progress or {}).get("epoch") == 1
                   and (e.progress or {}).get("batch") == (e.progress or {}).get("batches")
                   for v in views if v.trial.number >= 1 for e in v.experiments)

    views = _wait_sweep(faults, sweep_id, epoch_1_done)
    victim = next(e for v in views if v.trial.number >= 1 for e in v.experiments
                  if e.status == "running" and (e.progress or {}).get("epoch") == 1)
    kill(faults.holder_pid(victim.id))  # the pool process running the trial, in epoch 2 of 3

    views = _wait_sweep(faults, sweep_id, lambda s, _v: s.status != "running")
    final, _ = _sweep(faults, sweep_id)
    assert final.status == "succeeded", (final.error, faults.logs())
    assert [v.trial.number for v in views] == list(range(TRIALS)) and {v.trial.state for v in views} == {"complete"}
    experiments = [e for v in views for e in v.experiments]
    assert len(experiments) == TRIALS and {e.status for e in experiments} == {"succeeded"}
    resumed = faults.row(victim.id)
    assert resumed.attempts == 2, "the killed trial was not redelivered and resumed"
    for experiment in experiments:  # each ran once: one result, one MLflow run, every epoch logged once
        assert faults.results_for(experiment.id) == 1
        assert faults.one_run_logged_once(experiment.id, epochs=EPOCHS) == (experiment.mlflow_run_id, "FINISHED")
    deadline = time.monotonic() + 60
    while (parent := faults.mlflow_query("SELECT status FROM runs WHERE run_uuid = ?", final.mlflow_run_id)) \
            and parent[0][0] == "RUNNING":
        assert time.monotonic() < deadline, "the sweep's parent run was never closed"
        time.sleep(0.2)
    assert parent == [("FINISHED",)]
    time.sleep(3.0)  # a late duplicate delivery or reaper pass would land now
    assert len(_sweep(faults, sweep_id)[1]) == TRIALS
    after = faults.counts_grew_by(before, experiments=TRIALS, results=TRIALS)
    # One run per trial and the parent (a worker that lost the race to create the parent deleted its own).
    assert _active_runs(faults) - active_before == TRIALS + 1
    record_fault("worker SIGKILL mid-trial of a sweep", f"SIGKILL to the pool process of a running trial in epoch 2 "
                 f"of {EPOCHS} ({TRIALS}-trial sweep, 2 at once, 2 workers)",
                 f"the trial was redelivered and resumed (attempts 2, epochs logged once); the sweep ended succeeded "
                 f"with exactly {TRIALS} trials and {TRIALS} results, its parent run closed", before, after)
