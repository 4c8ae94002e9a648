"""The tables: experiments (one row per submitted run), results (one per finished run), result_groups
(the seeds of one spec, which the leaderboard ranks) and reports (tables made from finished experiments)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint, false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Also imported from here by the SQL layer's callers. Each metric is a column (and an index) below.
from fer_models.vocabulary import FINISHED, INTERVALS, LOWER_IS_BETTER, METRICS, PROTOCOLS, STATUSES, Protocol  # noqa: F401


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # `pending`: inserted but not yet handed to the broker (the outbox); never shown as queued.
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    family: Mapped[str | None] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64), nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    seed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    group_id: Mapped[str | None] = mapped_column(String(36))
    spec_key: Mapped[str] = mapped_column(String(64), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    batch_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Why each lost delivery's process died ("SIGSEGV", "exit status 1"), as the worker's pool saw it.
    lost_causes: Mapped[list[str] | None] = mapped_column(JSON)
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # A sweep's trial: the sweep and the trial's number in it (its seeds share the number).
    sweep_id: Mapped[str | None] = mapped_column(String(36))
    trial_number: Mapped[int | None] = mapped_column(Integer)
    sweep_value: Mapped[float | None] = mapped_column(Float)  # the objective this trial's run reached
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # One key names one request; several rows (a batch) may share it, the position tells them apart.
        UniqueConstraint("idempotency_key", "batch_index", name="uq_experiments_idempotency"),
        Index("ix_experiments_status_created", "status", "created_at"),
        Index("ix_experiments_model", "model"),
        Index("ix_experiments_dataset", "dataset"),
        Index("ix_experiments_group_id", "group_id"),
        Index("ix_experiments_created", "created_at"),
        Index("ix_experiments_sweep", "sweep_id", "trial_number"),
    )


class Result(Base):
    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    family: Mapped[str | None] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64), nullable=False)
    split_fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    spec_key: Mapped[str] = mapped_column(String(64), nullable=False)
    seed: Mapped[int] = mapped_column(Integer, nullable=False)
    accuracy: Mapped[float | None] = mapped_column(Float)
    balanced_accuracy: Mapped[float | None] = mapped_column(Float)
    precision_macro: Mapped[float | None] = mapped_column(Float)
    recall_macro: Mapped[float | None] = mapped_column(Float)
    f1_macro: Mapped[float | None] = mapped_column(Float)
    f1_weighted: Mapped[float | None] = mapped_column(Float)
    roc_auc_macro: Mapped[float | None] = mapped_column(Float)
    top2_accuracy: Mapped[float | None] = mapped_column(Float)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    epoch_seconds: Mapped[float | None] = mapped_column(Float)
    inference_ms: Mapped[float | None] = mapped_column(Float)
    throughput: Mapped[float | None] = mapped_column(Float)
    params: Mapped[float | None] = mapped_column(Float)
    model_bytes: Mapped[float | None] = mapped_column(Float)
    accuracy_ci_low: Mapped[float | None] = mapped_column(Float)
    accuracy_ci_high: Mapped[float | None] = mapped_column(Float)
    f1_macro_ci_low: Mapped[float | None] = mapped_column(Float)
    f1_macro_ci_high: Mapped[float | None] = mapped_column(Float)
    protocol: Mapped[str] = mapped_column(String(16), nullable=False, default="holdout", server_default="holdout")
    per_class: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        # One result per experiment: a duplicate finish can never add a second leaderboard row.
        UniqueConstraint("experiment_id", name="uq_results_experiment_id"),
        Index("ix_results_model", "model"),
        Index("ix_results_split_fingerprint", "split_fingerprint"),
        Index("ix_results_spec_key", "spec_key", "split_fingerprint"),
        *(Index(f"ix_results_dataset_{m}", "dataset", m) for m in METRICS),
    )


class StoredPredictions(Base):
    """A finished run's validation and test probabilities (fer_models.evaluation.predictions' `.npz`), kept
    so that ensembles and paired comparisons need neither the model nor MLflow."""

    __tablename__ = "predictions"

    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    split_fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    npz: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ResultGroup(Base):
    """One row per (spec_key, split_fingerprint): the seeds of one spec on one split.

    Kept up to date in the same transaction as each results row. GET /leaderboard ranks specs by an
    indexed mean and answers from these rows alone: the spec and every seed's numbers are copied in
    (`members`), so a request is one SELECT with no join back to results or experiments.
    """

    __tablename__ = "result_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    spec_key: Mapped[str] = mapped_column(String(64), nullable=False)
    split_fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    family: Mapped[str | None] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64), nullable=False)
    recipe: Mapped[str | None] = mapped_column(String(64))  # the named recipe the spec came from
    # "official": the dataset's own test images; "holdout": carved from the pool (never ranked together)
    protocol: Mapped[str] = mapped_column(String(16), nullable=False, default="holdout", server_default="holdout")
    n: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)  # without the seed
    # Sorted by seed: [{"experiment_id", "seed", "mlflow_run_id", "metrics": {metric: value or null}}]
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Per metric: how many seeds reported it, their sum and their mean (NULL until one did).
    for _m in METRICS:
        locals()[f"{_m}_n"] = mapped_column(Integer, nullable=False, default=0)
        locals()[f"{_m}_sum"] = mapped_column(Float)
        locals()[f"{_m}_mean"] = mapped_column(Float)
    del _m

    __table_args__ = (
        UniqueConstraint("spec_key", "split_fingerprint", name="uq_result_groups_key"),
        Index("ix_result_groups_model", "model"),
        Index("ix_result_groups_recipe", "recipe"),
        Index("ix_result_groups_protocol_dataset", "protocol", "dataset"),
        *(Index(f"ix_result_groups_dataset_{m}", "dataset", f"{m}_mean") for m in METRICS),
    )



class Report(Base):
    """A table made from finished experiments (kind "writeup": the write-up's figures beside ours).

    A snapshot: the rows, Markdown and PNG as they were made, so GET /reports/{kind} is one SELECT and
    shows exactly what `ferbench reproduce` printed and logged to MLflow.
    """

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    dataset: Mapped[str] = mapped_column(String(64), nullable=False)
    scale: Mapped[str] = mapped_column(String(8), nullable=False)  # full, quick or mixed
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # title, rows, seeds, ...
    markdown: Mapped[str] = mapped_column(Text, nullable=False)
    png: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    experiment_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_reports_kind_created", "kind", "created_at"),)


class Sweep(Base):
    """A hyperparameter search: its request as validated, and the Optuna study (same database) behind it."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # running -> succeeded | failed | cancelled; cancel_requested shows as `cancelling` until the trials end.
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    dataset: Mapped[str] = mapped_column(String(64), nullable=False)
    base_spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # resolved, before the search's values
    space: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    sampler: Mapped[str] = mapped_column(String(16), nullable=False)
    sampler_seed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pruner: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    objective: Mapped[str] = mapped_column(String(32), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    n_trials: Mapped[int] = mapped_column(Integer, nullable=False)
    parallel: Mapped[int] = mapped_column(Integer, nullable=False)
    seeds: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    study_name: Mapped[str] = mapped_column(String(64), nullable=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))  # the parent run of the trials' runs
    # Once the sweep has ended (whoever ended it), one worker claims closing its parent run, then sets closed.
    parent_run_closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    parent_run_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_sweeps_created", "created_at"), UniqueConstraint("study_name", name="uq_sweeps_study"))


class SweepTrial(Base):
    """One trial of a sweep: its Optuna trial, the values it tries, and how it ended.

    The primary key (sweep_id, number) is the guard that a sweep never creates more than n_trials:
    whoever inserts number k first made trial k, a second inserter fails and makes nothing.
    """

    __tablename__ = "sweep_trials"

    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    optuna_trial_id: Mapped[int] = mapped_column(Integer, nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # running -> complete | pruned | failed | cancelled
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    value: Mapped[float | None] = mapped_column(Float)  # the objective (mean over the trial's seeds)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UploadedDataset(Base):
    """A dataset registered by upload: its decoded cache lives in MLflow's artifact store, found by fingerprint.

    The row is inserted only once the cache is stored there, so every row can be downloaded by any worker.
    """

    __tablename__ = "uploaded_datasets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # the source's content fingerprint
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # csv | zip
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    upload_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cache_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cache_sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # what a worker's download must match
    mlflow_run_id: Mapped[str] = mapped_column(String(64), nullable=False)
    artifact_path: Mapped[str] = mapped_column(String(255), nullable=False)  # the cache file inside that run
    split_sizes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # the data report, as decoded once
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("fingerprint", name="uq_uploaded_datasets_fingerprint"),)
