"""Rows to response bodies."""

from __future__ import annotations

from ferbench.db.leaderboard import LeaderboardEntry
from ferbench.db.models import METRICS, Experiment, Result

from api.links import mlflow_url
from api.schemas import ExperimentOut, LeaderboardEntryOut


def experiment_out(row: Experiment, result: Result | None, tracking_uri: str | None) -> ExperimentOut:
    return ExperimentOut(
        id=row.id, status=row.status, model=row.model, family=row.family, dataset=row.dataset, seed=row.seed,  # type: ignore[arg-type]
        group_id=row.group_id, spec_key=row.spec_key, spec=row.spec, progress=row.progress,
        metrics={m: getattr(result, m) for m in METRICS} if result is not None else None,
        per_class=result.per_class if result is not None else None,
        split_fingerprint=result.split_fingerprint if result is not None else None,
        mlflow_run_id=row.mlflow_run_id, mlflow_url=mlflow_url(tracking_uri, row.mlflow_run_id),
        error=row.error, stopped_reason=row.stopped_reason, attempts=row.attempts,
        cancel_requested=row.cancel_requested, worker=row.worker, created_at=row.created_at,
        enqueued_at=row.enqueued_at, started_at=row.started_at, finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
    )


def leaderboard_entry_out(entry: LeaderboardEntry, tracking_uri: str | None) -> LeaderboardEntryOut:
    return LeaderboardEntryOut(**entry.model_dump(), experiment_url=f"/experiments/{entry.experiment_id}",
                               mlflow_url=mlflow_url(tracking_uri, entry.mlflow_run_id))
