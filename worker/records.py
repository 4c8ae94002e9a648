"""Every database read and write the worker makes (the task, the reaper, the MLflow clean-up), each in
its own short transaction.

Thin on purpose: the SQL lives in ferbench.db (shared with the API); this module only opens
sessions for the worker's process, retries a write when the database connection is lost (bounded by
settings.db_write_attempts), and turns rows into what the worker needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from fer_models.training.hooks import ExperimentResult  # TF-free
from ferbench.db import experiments, lifecycle, outbox, predictions, sweeps, uploaded_datasets
from ferbench.db.models import Experiment, Sweep, SweepTrial, UploadedDataset
from ferbench.sweeps import advance
from ferbench.sweeps.advance import SyncOutcome
from ferbench.settings import get_settings
from worker.db_retry import with_db_retries
from worker.liveness import holder_alive, worker_name


@dataclass(frozen=True)
class Claimed:
    """What the task needs from a claimed row (detached from its session)."""

    experiment_id: str
    spec: dict[str, Any]
    mlflow_run_id: str | None
    attempts: int
    sweep_id: str | None = None  # a sweep's trial (worker/sweep_trials.py)


@lru_cache(maxsize=8)
def _factory(url: str, pid: int) -> Callable[[], Session]:
    from ferbench.db.session import make_session_factory

    return make_session_factory(url)


@contextmanager
def session_scope() -> Iterator[Session]:
    # One engine per process: the main process (outbox drain, reaper) opens connections before the
    # pool forks, and a PostgreSQL connection used from two processes corrupts both sessions.
    session = _factory(get_settings().resolved_database_url, os.getpid())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")


def _retrying(what: str, fn: Callable[[Session], T]) -> T:
    def once() -> T:
        with session_scope() as session:
            return fn(session)

    return with_db_retries(once, what=what, attempts=get_settings().db_write_attempts)


@dataclass(frozen=True)
class FailedRun:
    """A failed row's MLflow run and the reason to end it with."""

    mlflow_run_id: str | None
    error: str


def _claimed(row: Experiment | None) -> Claimed | None:
    if row is None:
        return None
    return Claimed(experiment_id=row.id, spec=dict(row.spec), mlflow_run_id=row.mlflow_run_id,
                   attempts=int(row.attempts or 0), sweep_id=row.sweep_id)


def claim(experiment_id: str) -> Claimed | None:
    """Claim a queued row, or reclaim a running one whose worker is gone; None when not ours to run.

    A `running` row is a redelivery (the worker crashed, or the broker's visibility timeout passed):
    it is run again only when its holder is dead (a gone pid on this host, or a stale heartbeat),
    and failed with "worker lost N times" (or the signal that killed it) past settings.max_attempts.
    """
    settings = get_settings()

    def attempt(session: Session) -> Claimed | None:
        claimed = _claimed(lifecycle.claim_experiment(session, experiment_id, worker=worker_name()))
        if claimed is not None:
            return claimed
        return _claimed(lifecycle.reclaim_lost(
            session, experiment_id, stale_after_s=settings.heartbeat_stale_s,
            max_attempts=settings.max_attempts, holder_alive=holder_alive, worker=worker_name()))

    return _retrying("claim", attempt)


def lost_too_often(experiment_id: str) -> bool:
    """Was the row failed because its workers were lost max_attempts times?"""
    with session_scope() as session:
        return lifecycle.is_lost_failure(experiments.get_experiment(session, experiment_id))


def note_lost_cause(experiment_id: str, cause: str) -> None:
    """Why the process running this experiment died ("SIGSEGV"), for the failure message after the last attempt."""
    _retrying("lost cause write", lambda s: lifecycle.record_lost_cause(s, experiment_id, cause))


def set_mlflow_run_id(experiment_id: str, run_id: str) -> None:
    _retrying("run id write", lambda s: lifecycle.set_mlflow_run_id(s, experiment_id, run_id))


def update_progress(experiment_id: str, progress: dict[str, Any]) -> None:
    # Progress is advisory: one try, the next report comes soon anyway.
    with session_scope() as session:
        lifecycle.update_progress(session, experiment_id, progress)


def heartbeat(experiment_id: str) -> bool:
    with session_scope() as session:
        return lifecycle.heartbeat(session, experiment_id)


def is_cancel_requested(experiment_id: str) -> bool:
    with session_scope() as session:
        return bool(lifecycle.is_cancel_requested(session, experiment_id))


def finish(experiment_id: str, result: ExperimentResult, *, sweep_value: float | None = None) -> bool:
    record = lifecycle.ResultRecord(metrics=result.metrics, split_fingerprint=result.split_fingerprint,
                                    per_class=result.per_class, mlflow_run_id=result.mlflow_run_id,
                                    stopped_reason=result.stopped_reason, protocol=result.protocol,
                                    predictions=result.predictions.to_bytes() if result.predictions else None,
                                    sweep_value=sweep_value)
    return _retrying("result write", lambda s: lifecycle.finish_experiment(s, experiment_id, record))


def member_predictions(experiment_ids: list[str]) -> tuple[dict[str, Any], dict[str, str | None]]:
    """An ensemble's inputs: each member's stored predictions and its MLflow run id.

    Raises fer_models' EnsembleError naming every member that is unknown or has no predictions."""
    from fer_models.evaluation.ensemble_run import EnsembleError

    def read(session: Session) -> tuple[dict[str, Any], dict[str, str | None]]:
        try:
            found = predictions.load_predictions(session, experiment_ids)
        except predictions.PredictionsUnavailable as exc:
            raise EnsembleError(f"the ensemble's members cannot be combined: {exc}") from None
        runs = dict(session.execute(select(Experiment.id, Experiment.mlflow_run_id)
                                    .where(Experiment.id.in_(list(found)))).all())
        return found, runs

    return _retrying("member predictions read", read)


def fail(experiment_id: str, error: str, *, partial: dict[str, Any] | None = None) -> bool:
    """Fail the row with its reason; `partial` (per-epoch history, metrics computed) is kept in its progress."""
    def write(session: Session) -> bool:
        if partial:
            row = experiments.get_experiment(session, experiment_id)
            if row is not None and row.status == "running":
                lifecycle.update_progress(session, experiment_id, {**(row.progress or {}), **partial})
        return bool(lifecycle.fail_experiment(session, experiment_id, error))

    return _retrying("failure write", write)


def cancelled(experiment_id: str) -> None:
    _retrying("cancel write", lambda s: lifecycle.mark_cancelled(s, experiment_id))


def pruned(experiment_id: str, epoch: int) -> bool:
    return bool(_retrying("pruned write", lambda s: lifecycle.mark_pruned(s, experiment_id, epoch)))


# --- sweeps: the trial a row is, and the sweep's progress after it ends ---------------------------

@dataclass(frozen=True)
class SweepTrialRef:
    """What running one trial's experiment needs from its sweep."""

    sweep: Sweep  # detached
    number: int
    optuna_trial_id: int


def sweep_trial(sweep_id: str, experiment_id: str) -> SweepTrialRef | None:
    def read(session: Session) -> SweepTrialRef | None:
        row = experiments.get_experiment(session, experiment_id)
        trial = session.get(SweepTrial, (sweep_id, row.trial_number)) if row is not None else None
        sweep = session.get(Sweep, sweep_id)
        if trial is None or sweep is None:
            return None
        return SweepTrialRef(sweep=sweep, number=trial.number, optuna_trial_id=trial.optuna_trial_id)

    return _retrying("sweep trial read", read)


def sweep_of(experiment_id: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Experiment.sweep_id).where(Experiment.id == experiment_id))


def sync_sweep(sweep_id: str, enqueue: Callable[[str], None]) -> SyncOutcome:
    """End the sweep's finished trials, open the next ones, end the sweep when nothing is left (idempotent)."""
    url = get_settings().resolved_database_url
    return _retrying("sweep sync", lambda s: advance.sync_sweep(s, url, sweep_id, enqueue))


def set_sweep_parent_run(sweep_id: str, run_id: str) -> str:
    return _retrying("sweep run write", lambda s: sweeps.set_parent_run(s, sweep_id, run_id))


def sweep_summary(sweep_id: str) -> tuple[Sweep, list[sweeps.TrialView]] | None:
    with session_scope() as session:
        sweep = sweeps.get_sweep(session, sweep_id)
        return None if sweep is None else (sweep, sweeps.trials_of(session, sweep_id))


def running_sweeps() -> list[str]:
    with session_scope() as session:
        return sweeps.running_sweeps(session)


def unclosed_sweeps() -> list[str]:
    with session_scope() as session:
        return sweeps.unclosed_sweeps(session)


def claim_parent_run_close(sweep_id: str, lease_s: float) -> bool:
    return bool(_retrying("sweep close claim", lambda s: sweeps.claim_parent_run_close(s, sweep_id, lease_s)))


def end_parent_run_close(sweep_id: str, *, closed: bool) -> None:
    _retrying("sweep close end", lambda s: sweeps.end_parent_run_close(s, sweep_id, closed=closed))


def requeue(experiment_id: str, worker: str, enqueue: Callable[[str], None]) -> bool:
    """Give our own running job back to the queue (graceful shutdown); the attempt is not counted."""
    return bool(_retrying("requeue", lambda s: lifecycle.requeue_running(
        s, experiment_id, enqueue=enqueue, worker=worker, refund_attempt=True)))


def drain_outbox(enqueue: Callable[[str], None]) -> int:
    with session_scope() as session:
        return int(outbox.drain_outbox(session, enqueue) or 0)


# --- the reaper (main process): one try each, its next pass comes soon anyway ----------------------

def stale_running(stale_after_s: float) -> list[tuple[str, int]]:
    """(id, attempts) of running rows whose heartbeat is older than `stale_after_s`."""
    with session_scope() as session:
        return lifecycle.stale_running(session, stale_after_s)


def fail_lost(experiment_id: str, attempts: int) -> bool:
    """Fail a lost row past its last attempt ("worker lost N times"); False when another pass did it first."""
    with session_scope() as session:
        return lifecycle.fail_lost(session, experiment_id, attempts)


def requeue_lost(experiment_id: str, attempts: int, enqueue: Callable[[str], None]) -> bool:
    """Hand a lost row back to the queue, counting the lost attempt; raises BrokerUnavailable (kept pending)."""
    with session_scope() as session:
        return lifecycle.requeue_running(session, experiment_id, enqueue=enqueue, attempts=attempts)


def failed_run(experiment_id: str) -> FailedRun | None:
    """The MLflow run of a failed row, with its error; None unless the row is failed."""
    with session_scope() as session:
        row = experiments.get_experiment(session, experiment_id)
        if row is None or row.status != "failed":
            return None
        return FailedRun(mlflow_run_id=row.mlflow_run_id, error=row.error or "failed")


@dataclass(frozen=True)
class UploadedRef:
    """Where an uploaded dataset's cache is and what it must hash to."""

    name: str
    fingerprint: str
    cache_sha256: str
    cache_bytes: int
    mlflow_run_id: str
    artifact_path: str


def uploaded_dataset(name: str) -> UploadedRef | None:
    def read(session: Session) -> UploadedRef | None:
        row: UploadedDataset | None = uploaded_datasets.by_name(session, name)
        if row is None:
            return None
        return UploadedRef(row.name, row.fingerprint, row.cache_sha256, int(row.cache_bytes), row.mlflow_run_id,
                           row.artifact_path)

    return _retrying("uploaded dataset read", read)
