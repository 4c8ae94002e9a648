"""What one delivery of `ferbench.run_experiment` does: claim, train through fer_models, record the outcome.

Free of Celery so it can be called (and tested) on its own; worker/tasks.py registers it as the task.
A delivery may be a redelivery (the previous worker died): records.claim decides whether the
experiment is ours to run; the engine then resumes from the run folder's last epoch checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fer_models.errors import FerBenchError, ResultNotLogged
from fer_models.evaluation.ensemble_run import is_ensemble  # TF-free, like the spec
from fer_models.training.spec import parse_spec  # TF-free: loaded before the pool forks
from ferbench.db.outbox import BrokerUnavailable
from ferbench.settings import Settings
from worker import records, shutdown
from worker.heartbeat import heartbeat_while_running
from worker.liveness import worker_name
from worker.sweep_trials import TrialRun, after_trial, trial_run

log = logging.getLogger(__name__)


def execute_experiment(experiment_id: str, settings: Settings,
                       requeue: Callable[[str], None] | None = None) -> str:
    """Returns succeeded, failed, cancelled, pruned (a sweep's trial), requeued (graceful shutdown) or skipped
    (not ours to run).

    `requeue(experiment_id)` sends the task again (the worker passes the broker's enqueue).
    """
    claimed = records.claim(experiment_id)
    if claimed is None:
        # A duplicate delivery, a lost race, a job whose live holder still runs it, or one cancelled
        # while queued: nothing to do.
        log.info("experiment %s not claimable (already running, finished or cancelled); skipping", experiment_id)
        if records.lost_too_often(experiment_id):
            # This delivery found it lost once too many and failed it: its MLflow run ends with it.
            from worker.mlflow_runs import end_run_of_failed

            end_run_of_failed(experiment_id, settings.mlflow_tracking_uri)
        # A sweep's trial finished by a delivery whose worker died before updating the sweep: done here.
        after_trial(experiment_id, settings, requeue)
        return "skipped"
    log.info("claimed experiment %s (attempt %s)", experiment_id, claimed.attempts)
    outcome = _execute(experiment_id, claimed, settings, requeue)
    if claimed.sweep_id is not None and outcome != "requeued":
        after_trial(experiment_id, settings, requeue)
    return outcome


def _execute(experiment_id: str, claimed: records.Claimed, settings: Settings,
             requeue: Callable[[str], None] | None) -> str:
    work_dir = Path(settings.runs_dir).resolve() / experiment_id  # checkpoints: a redelivery resumes
    with heartbeat_while_running(experiment_id, records.heartbeat, settings.heartbeat_interval_s):
        trial = None
        try:
            if is_ensemble(claimed.spec):
                result = _combine(experiment_id, claimed, settings)
            else:
                trial = trial_run(claimed, settings)
                result = _train(experiment_id, claimed, settings, work_dir, trial)
        except ResultNotLogged as exc:
            # A known cause (the tracking server gone) is one line; anything else keeps its traceback.
            log.warning("experiment %s was evaluated but its results were not logged: %s", experiment_id, exc,
                        exc_info=not isinstance(exc.__cause__, FerBenchError))
            records.fail(experiment_id, str(exc), partial=partial_results(work_dir, exc.metrics))
            return "failed"
        except FerBenchError as exc:
            log.warning("experiment %s failed: %s", experiment_id, exc)
            records.fail(experiment_id, str(exc), partial=partial_results(work_dir))
            return "failed"
        except Exception as exc:  # noqa: BLE001 - any crash of the run ends the experiment, with its reason
            log.exception("experiment %s crashed", experiment_id)
            records.fail(experiment_id, f"{type(exc).__name__}: {exc}", partial=partial_results(work_dir))
            return "failed"
    if result.status == "cancelled":
        if trial is not None and trial.reporter.pruned_at is not None \
                and not records.is_cancel_requested(experiment_id):
            records.pruned(experiment_id, trial.reporter.pruned_at)
            from worker.mlflow_runs import tag_pruned

            run_id = result.mlflow_run_id or claimed.mlflow_run_id
            tag_pruned(settings.mlflow_tracking_uri, run_id, trial.reporter.pruned_at)
            log.info("experiment %s pruned after epoch %d", experiment_id, trial.reporter.pruned_at)
            return "pruned"
        if shutdown.requested() and not records.is_cancel_requested(experiment_id) and requeue is not None:
            # Stopped by a graceful shutdown, not by the user: back to the queue, resumed elsewhere.
            try:
                records.requeue(experiment_id, worker_name(), requeue)
            except BrokerUnavailable:
                log.warning("broker unreachable: experiment %s kept pending, sent by the outbox drain", experiment_id)
            log.warning("experiment %s requeued by the worker's shutdown (resumes from epoch %d)",
                        experiment_id, result.epochs_completed)
            return "requeued"
        records.cancelled(experiment_id)
        return "cancelled"
    records.finish(experiment_id, result, sweep_value=trial.sweep_value(result.history) if trial else None)
    return "succeeded"


def _train(experiment_id: str, claimed: records.Claimed, settings: Settings, work_dir: Path,
           trial: TrialRun | None = None) -> Any:
    # Parsed once here: a spec that no longer validates (a model removed since it was submitted)
    # fails the experiment with the reason instead of leaving it running.
    spec = parse_spec(claimed.spec)
    # Imported here, in the pool's child process: TensorFlow must never load in the parent.
    from fer_models.training.engine import RunHooks, run_experiment

    from worker.datasets import uploaded_dataset_file
    from worker.hooks import build_hooks

    uploaded = uploaded_dataset_file(spec.dataset, settings)
    return run_experiment(
        spec,
        work_dir=work_dir,
        data_dir=Path(settings.data_dir),
        cache_dir=Path(settings.cache_dir),
        dataset_file=uploaded.path if uploaded else None,
        tracking_uri=settings.mlflow_tracking_uri,
        mlflow_run_id=claimed.mlflow_run_id,
        tags={"experiment_id": experiment_id, **(trial.tags if trial else {})},
        hooks=build_hooks(experiment_id, RunHooks, trial=trial),
    )


def _combine(experiment_id: str, claimed: records.Claimed, settings: Settings) -> Any:
    """An ensemble: no training, only its members' stored predictions combined (TF is never imported)."""
    from fer_models.evaluation.ensemble_run import EnsembleSpec, run_ensemble

    spec = EnsembleSpec.model_validate(claimed.spec["ensemble"])
    members, runs = records.member_predictions(spec.members)
    return run_ensemble(spec, members, dataset=claimed.spec["dataset"], member_runs=runs,
                        tracking_uri=settings.mlflow_tracking_uri, mlflow_run_id=claimed.mlflow_run_id,
                        tags={"experiment_id": experiment_id})


def partial_results(work_dir: Path, test_metrics: Mapping[str, float] | None = None) -> dict[str, Any] | None:
    """What a failed run had already computed: per-epoch history (its checkpoint) and any final metrics."""
    out: dict[str, Any] = {}
    try:
        from fer_models.training.checkpoint import load_state

        state = load_state(work_dir)
    except Exception:  # noqa: BLE001 - a broken checkpoint must not hide the run's own error
        state = None
    if state is not None and state.history:
        out["history"] = state.history
        out["epochs_completed"] = state.epochs_completed
    if test_metrics:
        out["test_metrics"] = dict(test_metrics)
    return out or None
