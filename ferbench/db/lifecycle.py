"""An experiment's life on the worker's side: claim, progress and heartbeats, finish or fail, cancel,
requeue, and the recovery of rows whose worker process was lost.

Write functions commit their own transaction. State changes are single conditional UPDATEs
(`... WHERE id=? AND status IN (...)`), so two processes racing on the same row can never both win;
those that may race a second delivery are compare-and-swaps on `attempts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferbench.db.leaderboard import add_to_group, group_member
from ferbench.db.models import (FINISHED, INTERVALS, METRICS, PROTOCOLS, Experiment, Protocol, Result,
                                StoredPredictions, utcnow)
from ferbench.db.outbox import Enqueue, send


def claim_experiment(session: Session, experiment_id: str, worker: str | None = None) -> Experiment | None:
    """queued -> running, attempts+1; None when another delivery owns it or it is no longer runnable.

    `pending` is claimable too: a worker can receive the message before the API marks the row queued,
    and a pending row is only ever delivered if its send succeeded. `worker` names the holder (the
    worker passes worker.liveness.worker_name(), host:pid, which liveness reads back); None leaves
    the holder unnamed, and an unnamed holder counts as alive.
    """
    now = utcnow()
    result = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status.in_(("queued", "pending")),
               Experiment.cancel_requested.is_(False))
        .values(status="running", attempts=Experiment.attempts + 1, worker=worker,
                # A pending row claimed before the API marked it queued was sent all the same.
                enqueued_at=func.coalesce(Experiment.enqueued_at, now),
                started_at=func.coalesce(Experiment.started_at, now), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        return None
    return session.get(Experiment, experiment_id, populate_existing=True)


def _heartbeat_before(cutoff: datetime) -> ColumnElement[bool]:
    """The holder of a running row stopped beating before `cutoff` (or never beat at all)."""
    return Experiment.heartbeat_at.is_(None) | (Experiment.heartbeat_at < cutoff)


LOST_SUFFIX = "it is not retried again"


def worker_lost_message(attempts: int, causes: Sequence[str] = ()) -> str:
    """Why a row is failed after `attempts` lost deliveries; `causes` as the pool saw each process die."""
    if len(causes) >= attempts and len(set(causes)) == 1:
        how = f"was killed by {causes[0]}" if causes[0].startswith("SIG") else f"ended with {causes[0]}"
        return f"the training process {how}, {attempts} times (see the worker's log): {LOST_SUFFIX}"
    seen = f" ({', '.join(causes)})" if causes else ""
    return (f"worker lost {attempts} times{seen}: every delivery of this experiment ended with its worker process "
            f"gone (killed, out of memory, or its host lost); {LOST_SUFFIX}")


def is_lost_failure(row: Experiment | None) -> bool:
    """Was the row failed because its deliveries' processes were lost max_attempts times?"""
    return bool(row is not None and row.status == "failed" and (row.error or "").endswith(LOST_SUFFIX))


def record_lost_cause(session: Session, experiment_id: str, cause: str) -> bool:
    """Append why the running row's process died (read back by fail_lost's message)."""
    row = session.get(Experiment, experiment_id, populate_existing=True, with_for_update=True)
    if row is None or row.status != "running":
        session.commit()
        return False
    row.lost_causes = [*(row.lost_causes or []), cause]
    session.commit()
    return True


def reclaim_lost(
    session: Session,
    experiment_id: str,
    *,
    stale_after_s: float,
    max_attempts: int,
    holder_alive: Callable[[str | None], bool],
    worker: str | None = None,
) -> Experiment | None:
    """Claim a `running` row again when its holder is gone, counting the attempt.

    The holder is gone when `holder_alive(row.worker)` says so (a dead process on this host) or its
    heartbeat is older than `stale_after_s`. A row whose holder is alive is never started twice: None.
    Past `max_attempts` the row is failed with "worker lost N times" (None). The update is a
    compare-and-swap on `attempts`, so of two deliveries racing for the same lost row one wins.
    `worker` names the new holder, as in claim_experiment.
    """
    row = session.get(Experiment, experiment_id, populate_existing=True)
    if row is None or row.status != "running":
        session.commit()
        return None
    attempts, holder = int(row.attempts or 0), row.worker
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stale = session.scalar(select(func.count()).select_from(Experiment).where(
        Experiment.id == experiment_id, _heartbeat_before(cutoff))) == 1
    session.commit()
    if not stale and holder_alive(holder):
        return None
    if attempts >= max_attempts:
        fail_lost(session, experiment_id, attempts)
        return None
    if row.cancel_requested:
        mark_cancelled(session, experiment_id)
        return None
    now = utcnow()
    won = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "running", Experiment.attempts == attempts)
        .values(attempts=attempts + 1, worker=worker, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if won != 1:
        return None
    return session.get(Experiment, experiment_id, populate_existing=True)


def fail_lost(session: Session, experiment_id: str, attempts: int) -> bool:
    """running -> failed "worker lost N times", or the signal that killed it (compare-and-swap on attempts)."""
    causes = session.scalar(select(Experiment.lost_causes).where(Experiment.id == experiment_id)) or []
    result = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "running", Experiment.attempts == attempts)
        .values(status="failed", error=worker_lost_message(attempts, causes), finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def stale_running(session: Session, stale_after_s: float, *, limit: int = 500) -> list[tuple[str, int]]:
    """(id, attempts) of `running` rows whose heartbeat is older than `stale_after_s` (their worker stopped)."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    rows = session.execute(
        select(Experiment.id, Experiment.attempts)
        .where(Experiment.status == "running", _heartbeat_before(cutoff))
        .order_by(Experiment.heartbeat_at).limit(limit)
    ).all()
    session.commit()
    return [(r.id, int(r.attempts or 0)) for r in rows]


def requeue_running(
    session: Session, experiment_id: str, *, enqueue: Enqueue, attempts: int | None = None,
    worker: str | None = None, refund_attempt: bool = False,
) -> bool:
    """running -> pending -> (sent) queued: hand a job back to the queue.

    Guarded by `attempts` (the reaper's compare-and-swap) or `worker` (only the holder releases
    its own job). `refund_attempt`: a graceful shutdown is not a lost worker and does not count.
    If the broker refuses, the row stays `pending` (the outbox) and BrokerUnavailable is raised.
    """
    conditions = [Experiment.id == experiment_id, Experiment.status == "running"]
    if attempts is not None:
        conditions.append(Experiment.attempts == attempts)
    if worker is not None:
        conditions.append(Experiment.worker == worker)
    values: dict[str, Any] = {"status": "pending", "worker": None}
    if refund_attempt:
        values["attempts"] = func.greatest(Experiment.attempts - 1, 0) \
            if session.get_bind().dialect.name == "postgresql" else func.max(Experiment.attempts - 1, 0)
    changed = session.execute(update(Experiment).where(*conditions).values(**values)
                              .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if changed != 1:
        return False
    send(session, [experiment_id], enqueue)
    return True


def heartbeat(session: Session, experiment_id: str) -> bool:
    result = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a diverging loss is shown as null
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def update_progress(session: Session, experiment_id: str, progress: Mapping[str, Any] | Any) -> bool:
    """Store the latest progress (epoch, epochs, batch, batches, metrics, eta_seconds) and a heartbeat."""
    result = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
        .values(progress=_jsonable(progress), heartbeat_at=utcnow()).execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def set_mlflow_run_id(session: Session, experiment_id: str, run_id: str) -> None:
    session.execute(update(Experiment).where(Experiment.id == experiment_id).values(mlflow_run_id=run_id)
                    .execution_options(synchronize_session=False))
    session.commit()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ResultRecord:
    """What finishing a run stores: the results row's metrics, per-class report and split, and the
    outcome written on the experiment row (the worker builds it from fer_models' ExperimentResult)."""

    metrics: Mapping[str, float]
    split_fingerprint: str
    per_class: Mapping[str, Mapping[str, float]] | None = None
    mlflow_run_id: str | None = None
    stopped_reason: str | None = None
    protocol: Protocol = "holdout"  # how the test set was drawn (fer_models.vocabulary.PROTOCOLS)
    predictions: bytes | None = None  # fer_models.evaluation.predictions.Predictions.to_bytes()
    sweep_value: float | None = None  # a sweep trial's objective (its last epoch's validation metric)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; accepted: {', '.join(PROTOCOLS)}")


def finish_experiment(session: Session, experiment_id: str, result: ResultRecord) -> bool:
    """running -> succeeded plus its results row, in one transaction. A second call does nothing."""
    run_id = result.mlflow_run_id
    now = utcnow()
    try:
        values: dict[str, Any] = {"status": "succeeded", "finished_at": now, "heartbeat_at": now,
                                  "stopped_reason": result.stopped_reason, "error": None}
        if run_id:
            values["mlflow_run_id"] = run_id
        if result.sweep_value is not None:
            values["sweep_value"] = _number(result.sweep_value)
        changed = session.execute(
            update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            session.rollback()
            return False
        row = session.get(Experiment, experiment_id, populate_existing=True)
        assert row is not None
        split = result.split_fingerprint or "unknown"
        # Metrics arrive as numpy or Python numbers; NaN (an undefined metric) is stored as NULL.
        metrics = {m: _number(result.metrics.get(m)) for m in (*METRICS, *INTERVALS)}
        session.add(Result(
            experiment_id=experiment_id, model=row.model, family=row.family, dataset=row.dataset,
            split_fingerprint=split, spec_key=row.spec_key, seed=row.seed, protocol=result.protocol,
            per_class=_jsonable(result.per_class), mlflow_run_id=run_id or row.mlflow_run_id,
            created_at=now, **metrics,
        ))
        if result.predictions is not None:
            session.add(StoredPredictions(experiment_id=experiment_id, split_fingerprint=split,
                                          npz=result.predictions))
        session.flush()  # the unique experiment_id stops a second finish before the group changes
        add_to_group(session, row, split, group_member(experiment_id, row.seed, run_id or row.mlflow_run_id, metrics),
                     protocol=result.protocol)
        session.commit()
    except IntegrityError:
        session.rollback()  # a results row already exists: the other delivery finished it
        return False
    except BaseException:
        session.rollback()
        raise
    return True


def fail_experiment(session: Session, experiment_id: str, error: str) -> bool:
    result = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status.notin_(FINISHED))
        .values(status="failed", error=str(error)[:10_000], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def mark_cancelled(session: Session, experiment_id: str) -> bool:
    result = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status.notin_(FINISHED))
        .values(status="cancelled", cancel_requested=True, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def mark_pruned(session: Session, experiment_id: str, epoch: int) -> bool:
    """running -> pruned: a sweep trial its pruner stopped after `epoch` (no test evaluation, no result)."""
    result = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
        .values(status="pruned", stopped_reason=f"pruned after epoch {epoch}", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def is_cancel_requested(session: Session, experiment_id: str) -> bool:
    return bool(session.scalar(select(Experiment.cancel_requested).where(Experiment.id == experiment_id)))
