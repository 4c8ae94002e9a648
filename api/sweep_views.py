"""Sweep rows to response bodies."""

from __future__ import annotations

from collections import Counter

from api.links import mlflow_url
from api.schemas import SweepExperimentOut, SweepOut, SweepTrialOut
from ferbench.db.models import METRICS, Sweep
from ferbench.db.sweeps import TrialView, best_of, mean_test_metrics, sweep_status


def trial_out(view: TrialView, tracking_uri: str | None) -> SweepTrialOut:
    t = view.trial
    return SweepTrialOut(
        number=t.number, state=t.state, params=t.params, value=t.value,  # type: ignore[arg-type]
        spec=view.experiments[0].spec if view.experiments else None,
        experiments=[SweepExperimentOut(
            id=e.id, status=e.status, seed=e.seed, sweep_value=e.sweep_value, stopped_reason=e.stopped_reason,  # type: ignore[arg-type]
            error=e.error, mlflow_run_id=e.mlflow_run_id, mlflow_url=mlflow_url(tracking_uri, e.mlflow_run_id),
            experiment_url=f"/experiments/{e.id}") for e in view.experiments],
        test_metrics=mean_test_metrics(view.results, METRICS) if view.results else None,
    )


def sweep_out(sweep: Sweep, trials: list[TrialView], tracking_uri: str | None, *, with_trials: bool) -> SweepOut:
    states = Counter(v.trial.state for v in trials)
    best = best_of(trials, sweep.direction)
    return SweepOut(
        id=sweep.id, status=sweep_status(sweep), model=sweep.model, dataset=sweep.dataset,  # type: ignore[arg-type]
        base_spec=sweep.base_spec, space=sweep.space, sampler=sweep.sampler, sampler_seed=sweep.sampler_seed,
        pruner=sweep.pruner, objective=sweep.objective, direction=sweep.direction,  # type: ignore[arg-type]
        n_trials=sweep.n_trials, parallel=sweep.parallel, seeds=sweep.seeds, trial_states=dict(states),
        best=trial_out(best, tracking_uri) if best else None,
        trials=[trial_out(v, tracking_uri) for v in trials] if with_trials else None,
        mlflow_run_id=sweep.mlflow_run_id, mlflow_url=mlflow_url(tracking_uri, sweep.mlflow_run_id),
        error=sweep.error, created_at=sweep.created_at, finished_at=sweep.finished_at,
    )
