"""A sweep's bookkeeping on both backends, without workers: trials open up to `parallel`, end once however
often the sweep is synced (or by how many processes at once), never exceed `n_trials`, and the study
sees each trial's end (complete with the seeds' mean, pruned, failed)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ferbench.db import sweeps
from ferbench.db.models import Experiment, Sweep, utcnow
from ferbench.sweeps import study
from ferbench.sweeps.advance import new_study_name, start_sweep, sync_sweep, trial_specs

BASE = {"model": "cnn-small", "dataset": "synthetic", "epochs": 3, "batch_size": 16, "seed": 5,
        "learning_rate": 1e-3, "hyperparameters": {"filters": 32}}
SPACE = {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
         "hp.filters": {"kind": "choice", "values": [8, 16, 32]}}


def new_sweep(**overrides: Any) -> Sweep:
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()), status="running", model="cnn-small", dataset="synthetic", base_spec=BASE, space=SPACE,
        sampler="tpe", sampler_seed=0, pruner={"kind": "median", "startup_trials": 1}, objective="val_accuracy",
        direction="maximize", n_trials=5, parallel=2, seeds=1, study_name=new_study_name(), cancel_requested=False,
        created_at=utcnow())
    values.update(overrides)
    return Sweep(**values)


class Sent(list):
    def __call__(self, experiment_id: str) -> None:
        self.append(experiment_id)


def _end(session: Session, sweep_id: str, number: int, status: str, value: float | None = None,
         seed: int | None = None) -> None:
    where = [Experiment.sweep_id == sweep_id, Experiment.trial_number == number]
    if seed is not None:
        where.append(Experiment.seed == seed)
    session.execute(update(Experiment).where(*where).values(status=status, sweep_value=value, finished_at=utcnow()))
    session.commit()


def _optuna_states(url: str, sweep: Sweep, session: Session) -> list[str]:
    """The Optuna states of the sweep's trials (a trial asked by the loser of a race for a number is FAIL, unused)."""
    loaded = study.load(url, study.StudyConfig.of(sweep))
    by_id = {t._trial_id: t.state.name for t in loaded.get_trials(deepcopy=False)}
    return [by_id[v.trial.optuna_trial_id] for v in sweeps.trials_of(session, sweep.id)]


def test_trials_open_up_to_parallel_and_end_once_with_the_seeds_mean(db_url: str, session: Session) -> None:
    sent = Sent()
    sweep = start_sweep(session, db_url, new_sweep(seeds=2), sent)
    views = sweeps.trials_of(session, sweep.id)
    assert [v.trial.number for v in views] == [0, 1] and len(sent) == 4
    assert sorted(e.seed for e in views[0].experiments) == [5, 6]
    assert views[0].experiments[0].spec["learning_rate"] == views[0].trial.params["learning_rate"]
    _end(session, sweep.id, 0, "succeeded", 0.5, seed=5)
    assert sync_sweep(session, db_url, sweep.id, sent).ended == []  # one seed is still running
    _end(session, sweep.id, 0, "succeeded", 0.7, seed=6)
    first = sync_sweep(session, db_url, sweep.id, sent)
    again = sync_sweep(session, db_url, sweep.id, sent)  # a redelivery: nothing more
    assert (first.ended, first.opened, again.ended, again.opened) == ([0], [2], [], [])
    trial = sweeps.trials_of(session, sweep.id)[0].trial
    assert trial.state == "complete" and abs(trial.value - 0.6) < 1e-9
    assert _optuna_states(db_url, sweep, session) == ["COMPLETE", "RUNNING", "RUNNING"]


def test_a_sweep_ends_with_exactly_n_trials_and_its_best_even_with_concurrent_syncs(
        db_url: str, session: Session, session_factory: Callable[[], Session]) -> None:
    sent = Sent()
    sweep = start_sweep(session, db_url, new_sweep(n_trials=6, parallel=3), sent)
    outcomes = {0: ("succeeded", 0.4), 1: ("pruned", None), 2: ("failed", None), 3: ("succeeded", 0.8),
                4: ("succeeded", 0.6), 5: ("cancelled", None)}
    finished = []
    for _ in range(10):
        open_numbers = [v.trial.number for v in sweeps.trials_of(session, sweep.id) if v.trial.state == "running"]
        if not open_numbers:
            break
        for number in open_numbers:
            _end(session, sweep.id, number, *outcomes[number])

        def sync() -> None:
            with session_factory() as own:
                finished.append(sync_sweep(own, db_url, sweep.id, sent).finished)

        threads = [threading.Thread(target=sync) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    views = sweeps.trials_of(session, sweep.id)
    assert [v.trial.number for v in views] == list(range(6))
    assert sum(len(v.experiments) for v in views) == 6 == len(sent)
    assert [v.trial.state for v in views] == ["complete", "pruned", "failed", "complete", "complete", "cancelled"]
    assert [f for f in finished if f] == ["succeeded"]  # ended once
    row = sweeps.get_sweep(session, sweep.id)
    assert row.status == "succeeded" and sweeps.best_of(views, row.direction).trial.number == 3
    assert _optuna_states(db_url, sweep, session) == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE", "COMPLETE", "FAIL"]


def test_a_cancelled_sweep_opens_nothing_more_and_ends_cancelled(db_url: str, session: Session) -> None:
    sent = Sent()
    sweep = start_sweep(session, db_url, new_sweep(n_trials=4, parallel=2), sent)
    sweeps.request_cancel(session, sweep.id)
    outcome = sync_sweep(session, db_url, sweep.id, sent)
    assert outcome.opened == [] and outcome.finished == "cancelled" and len(sent) == 2
    assert [v.trial.state for v in sweeps.trials_of(session, sweep.id)] == ["cancelled", "cancelled"]


def test_trial_specs_apply_the_values_to_the_base_per_seed() -> None:
    specs = trial_specs(new_sweep(seeds=3), {"learning_rate": 0.01, "hp.filters": 8})
    assert [s["seed"] for s in specs] == [5, 6, 7]
    assert all(s["learning_rate"] == 0.01 and s["hyperparameters"] == {"filters": 8} for s in specs)
    assert BASE["hyperparameters"] == {"filters": 32}  # the base is not changed


def test_the_median_pruner_stops_a_trial_below_the_median_on_a_rigged_objective(db_url: str, session: Session) -> None:
    from ferbench.db.lifecycle import claim_experiment, mark_pruned
    from ferbench.sweeps.study import TrialReporter

    sent = Sent()
    sweep = start_sweep(session, db_url, new_sweep(n_trials=3, parallel=2), sent)
    config = study.StudyConfig.of(sweep)
    good, bad = (v.trial.optuna_trial_id for v in sweeps.trials_of(session, sweep.id))
    reporter = TrialReporter(db_url, config, good, "val_accuracy")
    for epoch in (1, 2, 3):
        assert not reporter.report(epoch, {"val_accuracy": 0.9, "val_loss": 0.1})
    study.tell(db_url, config, good, "complete", 0.9)
    rigged = TrialReporter(db_url, config, bad, "val_accuracy")
    assert not rigged.report(1, {"val_loss": 3.0})  # no objective in the metrics: nothing reported
    assert rigged.report(1, {"val_accuracy": 0.1}) and rigged.pruned_at == 1  # stopped after epoch 1 of 3
    # The worker then ends the run as `pruned` (a finished status: never failed, never ranked).
    bad_row = sweeps.trials_of(session, sweep.id)[1].experiments[0]
    assert claim_experiment(session, bad_row.id) is not None and mark_pruned(session, bad_row.id, 1)
    assert sync_sweep(session, db_url, sweep.id, sent).ended == [1]
    assert sweeps.trials_of(session, sweep.id)[1].trial.state == "pruned"
    assert sweeps.get_sweep(session, sweep.id).status == "running"  # trial 2 was opened in its place


def test_closing_the_parent_run_is_claimed_by_one_caller_released_on_failure_and_retaken_after_the_lease(
        db_url: str, session: Session) -> None:
    from datetime import timedelta

    sweep = start_sweep(session, db_url, new_sweep(n_trials=2, parallel=1), Sent())
    assert not sweeps.claim_parent_run_close(session, sweep.id, lease_s=600)  # still running: nothing to close
    sweeps.request_cancel(session, sweep.id)
    assert sync_sweep(session, db_url, sweep.id, Sent()).finished == "cancelled"
    assert sweeps.unclosed_sweeps(session) == [sweep.id]
    assert sweeps.claim_parent_run_close(session, sweep.id, lease_s=600)
    assert not sweeps.claim_parent_run_close(session, sweep.id, lease_s=600)  # one closer at a time
    sweeps.end_parent_run_close(session, sweep.id, closed=False)  # it failed: released at once
    assert sweeps.claim_parent_run_close(session, sweep.id, lease_s=600)
    # Its closer died: after the lease another may take it.
    session.execute(update(Sweep).where(Sweep.id == sweep.id).values(parent_run_claimed_at=utcnow() - timedelta(hours=1)))
    session.commit()
    assert sweeps.claim_parent_run_close(session, sweep.id, lease_s=600)
    sweeps.end_parent_run_close(session, sweep.id, closed=True)
    session.execute(update(Sweep).where(Sweep.id == sweep.id).values(parent_run_claimed_at=utcnow() - timedelta(hours=1)))
    session.commit()
    assert not sweeps.claim_parent_run_close(session, sweep.id, lease_s=600) and sweeps.unclosed_sweeps(session) == []
