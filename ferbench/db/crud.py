"""Every read and write the API and the worker make. Write functions commit their own transaction.

State changes are single conditional UPDATEs (`... WHERE id=? AND status IN (...)`), so two processes
racing on the same row can never both win: the database decides, not the caller's stale copy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferbench.db.models import FINISHED, LOWER_IS_BETTER, METRICS, Experiment, Result, ResultGroup, utcnow

Enqueue = Callable[[str], None]


class ExperimentNotFound(LookupError):
    def __init__(self, experiment_id: str) -> None:
        super().__init__(f"experiment {experiment_id!r} not found")


class ExperimentConflict(Exception):
    """The experiment is in a state that does not allow the request (e.g. cancelling a finished one)."""


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused with a different request body."""


class BrokerUnavailable(Exception):
    """The rows are stored as `pending` (the outbox) but the broker did not take the messages."""

    def __init__(self, experiment_ids: list[str], cause: BaseException) -> None:
        self.experiment_ids = experiment_ids
        super().__init__(f"the task broker is unreachable ({type(cause).__name__}); "
                         f"{len(experiment_ids)} experiment(s) kept pending and sent once it is back")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def without_seed(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the seeds of one spec share."""
    return {k: v for k, v in spec.items() if k != "seed"}


def spec_key(spec: Mapping[str, Any]) -> str:
    """Groups the seeds of one spec: the hash of everything but the seed."""
    return sha256(without_seed(spec))


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- create / enqueue -------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateOutcome:
    experiments: list[Experiment]
    created: bool  # False: an earlier request with the same Idempotency-Key made them


# A `pending` row younger than this may still be in the hands of the request that created it, which
# sends it itself; others resend only older ones. Longer than a failed send takes (broker connect
# timeout 2 s, socket timeout 5 s).
PENDING_SEND_GRACE_S = 10.0


def _by_idempotency_key(session: Session, key: str) -> list[Experiment]:
    stmt = select(Experiment).where(Experiment.idempotency_key == key).order_by(Experiment.batch_index)
    return list(session.scalars(stmt))


def _replay(session: Session, key: str, request_hash: str | None, enqueue: Enqueue) -> CreateOutcome | None:
    rows = _by_idempotency_key(session, key)
    if not rows:
        return None
    if rows[0].request_hash != request_hash:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different request body; "
                                  "use a new key for a new request")
    # A retry after a 503: hand the still-pending rows to the broker now, but only those past the
    # grace period: a younger one may be being sent by a concurrent retry with the same key.
    cutoff = utcnow() - timedelta(seconds=PENDING_SEND_GRACE_S)
    stale = set(session.scalars(
        select(Experiment.id).where(Experiment.idempotency_key == key, Experiment.status == "pending",
                                    Experiment.created_at <= cutoff)
    ))
    session.commit()
    _send(session, [r.id for r in rows if r.id in stale], enqueue)
    return CreateOutcome(experiments=[session.get(Experiment, r.id) for r in rows], created=False)  # type: ignore[misc]


def _send(session: Session, ids: list[str], enqueue: Enqueue) -> None:
    for i, experiment_id in enumerate(ids):
        try:
            enqueue(experiment_id)
        except Exception as exc:  # noqa: BLE001 - any broker failure leaves the rest in the outbox
            session.rollback()
            raise BrokerUnavailable(ids[i:], exc) from exc
        mark_queued(session, experiment_id)


def mark_queued(session: Session, experiment_id: str) -> bool:
    """pending -> queued after a successful send (a worker may already have claimed it: then no-op)."""
    result = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "pending")
        .values(status="queued", enqueued_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def create_experiments(
    session: Session,
    specs: Sequence[Mapping[str, Any]],
    *,
    enqueue: Enqueue,
    families: Mapping[str, str | None] | None = None,
    group_id: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> CreateOutcome:
    """Insert one row per spec as `pending`, commit, send each, then mark it `queued`.

    A row is never `queued` unless its message was accepted; on a broker failure the rows stay
    `pending` (drained later by `drain_outbox`) and BrokerUnavailable is raised.
    """
    if idempotency_key is not None:
        replay = _replay(session, idempotency_key, request_hash, enqueue)
        if replay is not None:
            return replay
    families = families or {}
    if group_id is None and len(specs) > 1:
        group_id = str(uuid.uuid4())
    now = utcnow()
    rows = [
        Experiment(
            id=str(uuid.uuid4()), status="pending", model=spec["model"], family=families.get(spec["model"]),
            dataset=spec["dataset"], spec=dict(spec), seed=int(spec.get("seed", 0)), group_id=group_id,
            spec_key=spec_key(spec), idempotency_key=idempotency_key, request_hash=request_hash,
            batch_index=i, attempts=0, cancel_requested=False, created_at=now,
        )
        for i, spec in enumerate(specs)
    ]
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        # Two requests with the same key at once: the loser answers like a retry of the winner.
        session.rollback()
        if idempotency_key is None:
            raise
        replay = _replay(session, idempotency_key, request_hash, enqueue)
        if replay is None:
            raise
        return replay
    _send(session, [r.id for r in rows], enqueue)
    return CreateOutcome(experiments=[session.get(Experiment, r.id) for r in rows], created=True)  # type: ignore[misc]


def drain_outbox(session: Session, enqueue: Enqueue, *, older_than_s: float = PENDING_SEND_GRACE_S,
                 limit: int = 500) -> int:
    """Send every `pending` row (oldest first) and mark it queued; returns how many were sent.

    Stops at the first broker failure (raising BrokerUnavailable). A row sent twice (the API sent it
    and crashed before marking it) is harmless: the second delivery cannot claim it.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    ids = list(session.scalars(
        select(Experiment.id)
        .where(Experiment.status == "pending", Experiment.created_at <= cutoff)
        .order_by(Experiment.created_at).limit(limit)
    ))
    session.commit()
    _send(session, ids, enqueue)
    return len(ids)


# --- reads ------------------------------------------------------------------------------------

def get_experiment(session: Session, experiment_id: str) -> Experiment | None:
    return session.get(Experiment, experiment_id)


def get_result(session: Session, experiment_id: str) -> Result | None:
    return session.scalars(select(Result).where(Result.experiment_id == experiment_id)).first()


def list_experiments(
    session: Session, *, status: str | None = None, model: str | None = None, dataset: str | None = None,
    group_id: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Experiment], int]:
    """Newest first, and the total count matching the filters."""
    conditions = []
    if status is not None:
        conditions.append(Experiment.status == status)
    if model is not None:
        conditions.append(Experiment.model == model)
    if dataset is not None:
        conditions.append(Experiment.dataset == dataset)
    if group_id is not None:
        conditions.append(Experiment.group_id == group_id)
    where = and_(True, *conditions)
    total = session.scalar(select(func.count()).select_from(Experiment).where(where)) or 0
    rows = session.scalars(
        select(Experiment).where(where).order_by(Experiment.created_at.desc(), Experiment.id)
        .limit(limit).offset(offset)
    )
    return list(rows), int(total)


# --- worker side ------------------------------------------------------------------------------

def claim_experiment(session: Session, experiment_id: str, worker: str | None = None) -> Experiment | None:
    """queued -> running, attempts+1; None when another delivery owns it or it is no longer runnable.

    `pending` is claimable too: a worker can receive the message before the API marks the row queued,
    and a pending row is only ever delivered if its send succeeded.
    """
    now = utcnow()
    result = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status.in_(("queued", "pending")),
               Experiment.cancel_requested.is_(False))
        .values(status="running", attempts=Experiment.attempts + 1, worker=worker or default_worker_name(),
                # A pending row claimed before the API marked it queued was sent all the same.
                enqueued_at=func.coalesce(Experiment.enqueued_at, now),
                started_at=func.coalesce(Experiment.started_at, now), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        return None
    row = session.get(Experiment, experiment_id, populate_existing=True)
    return row


def _heartbeat_before(cutoff: datetime) -> ColumnElement[bool]:
    """The holder of a running row stopped beating before `cutoff` (or never beat at all)."""
    return Experiment.heartbeat_at.is_(None) | (Experiment.heartbeat_at < cutoff)


def worker_lost_message(attempts: int, causes: Sequence[str] = ()) -> str:
    """Why a row is failed after `attempts` lost deliveries; `causes` as the pool saw each process die."""
    if len(causes) >= attempts and len(set(causes)) == 1:
        how = f"was killed by {causes[0]}" if causes[0].startswith("SIG") else f"ended with {causes[0]}"
        return f"the training process {how}, {attempts} times (see the worker's log): {LOST_SUFFIX}"
    seen = f" ({', '.join(causes)})" if causes else ""
    return (f"worker lost {attempts} times{seen}: every delivery of this experiment ended with its worker process "
            f"gone (killed, out of memory, or its host lost); {LOST_SUFFIX}")


LOST_SUFFIX = "it is not retried again"


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
        .values(attempts=attempts + 1, worker=worker or default_worker_name(), heartbeat_at=now)
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
    _send(session, [experiment_id], enqueue)
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


def _field(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def finish_experiment(session: Session, experiment_id: str, result: Any) -> bool:
    """running -> succeeded plus its results row, in one transaction. A second call does nothing.

    `result` is a fer_models ExperimentResult or a mapping with the same fields (metrics, per_class,
    split_fingerprint, mlflow_run_id, stopped_reason).
    """
    metrics = dict(_field(result, "metrics") or {})
    run_id = _field(result, "mlflow_run_id")
    now = utcnow()
    try:
        values: dict[str, Any] = {"status": "succeeded", "finished_at": now, "heartbeat_at": now,
                                  "stopped_reason": _field(result, "stopped_reason"), "error": None}
        if run_id:
            values["mlflow_run_id"] = run_id
        changed = session.execute(
            update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            session.rollback()
            return False
        row = session.get(Experiment, experiment_id, populate_existing=True)
        assert row is not None
        split = str(_field(result, "split_fingerprint") or "unknown")
        values = {m: _number(metrics.get(m)) for m in METRICS}
        session.add(Result(
            experiment_id=experiment_id, model=row.model, family=row.family, dataset=row.dataset,
            split_fingerprint=split, spec_key=row.spec_key, seed=row.seed,
            per_class=_jsonable(_field(result, "per_class")), mlflow_run_id=run_id or row.mlflow_run_id,
            created_at=now, **values,
        ))
        session.flush()  # the unique experiment_id stops a second finish before the group changes
        _add_to_group(session, row, split, _member(experiment_id, row.seed, run_id or row.mlflow_run_id, values))
        session.commit()
    except IntegrityError:
        session.rollback()  # a results row already exists: the other delivery finished it
        return False
    except BaseException:
        session.rollback()
        raise
    return True


def _member(experiment_id: str, seed: int, mlflow_run_id: str | None, metrics: Mapping[str, float | None]) -> dict[str, Any]:
    return {"experiment_id": experiment_id, "seed": seed, "mlflow_run_id": mlflow_run_id,
            "metrics": {m: metrics.get(m) for m in METRICS}}


def _group_columns(members: list[dict[str, Any]]) -> dict[str, Any]:
    """members (sorted by seed) plus the count, sum and mean per metric that the ranking query reads."""
    members = sorted(members, key=lambda m: (m["seed"], m["experiment_id"]))
    columns: dict[str, Any] = {"members": members, "n": len(members)}
    for m in METRICS:
        values = [v for member in members if (v := member["metrics"].get(m)) is not None]
        total = sum(values) if values else None
        columns |= {f"{m}_n": len(values), f"{m}_sum": total, f"{m}_mean": total / len(values) if values else None}
    return columns


def _add_to_group(session: Session, row: Experiment, split: str, member: dict[str, Any]) -> None:
    """Add one result to its (spec_key, split) group under a row lock (concurrent finishes all count)."""
    key = {"spec_key": row.spec_key, "split_fingerprint": split}
    fresh = {**key, "model": row.model, "family": row.family, "dataset": row.dataset, "n": 0, "members": [],
             "spec": without_seed(row.spec), **{f"{m}_n": 0 for m in METRICS}}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(dialect_insert(ResultGroup).values(**fresh).on_conflict_do_nothing(
        index_elements=["spec_key", "split_fingerprint"]))
    # FOR UPDATE on PostgreSQL; SQLite already holds its database-wide write lock from the results insert.
    group_id, members = session.execute(
        select(ResultGroup.id, ResultGroup.members).filter_by(**key).with_for_update()).one()
    session.execute(update(ResultGroup.__table__).where(ResultGroup.__table__.c.id == group_id)
                    .values(**_group_columns([*members, member])))


def rebuild_result_groups(session: Session) -> int:
    """Recompute every (spec_key, split) group from the results table (repair, bulk loads)."""
    rows = session.execute(
        select(Result.experiment_id, Result.model, Result.family, Result.dataset, Result.split_fingerprint,
               Result.spec_key, Result.seed, Result.mlflow_run_id, *(getattr(Result, m) for m in METRICS),
               Experiment.spec)
        .join(Experiment, Experiment.id == Result.experiment_id)
    ).all()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        group = groups.setdefault((r.spec_key, r.split_fingerprint), {
            "spec_key": r.spec_key, "split_fingerprint": r.split_fingerprint, "model": r.model,
            "family": r.family, "dataset": r.dataset, "members": [],
            "spec": without_seed(r.spec)})
        group["members"].append(_member(r.experiment_id, r.seed, r.mlflow_run_id,
                                        {m: getattr(r, m) for m in METRICS}))
    session.execute(delete(ResultGroup))
    if groups:
        session.execute(insert(ResultGroup), [{**g, **_group_columns(g["members"])} for g in groups.values()])
    session.commit()
    return len(groups)


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


def is_cancel_requested(session: Session, experiment_id: str) -> bool:
    return bool(session.scalar(select(Experiment.cancel_requested).where(Experiment.id == experiment_id)))


def request_cancel(session: Session, experiment_id: str) -> Experiment:
    """Queued/pending: cancelled at once (it will never start). Running: flag for the worker to stop.

    Raises ExperimentNotFound, or ExperimentConflict when it has already finished.
    """
    now = utcnow()
    cancelled = session.execute(
        update(Experiment).where(Experiment.id == experiment_id, Experiment.status.in_(("queued", "pending")))
        .values(status="cancelled", cancel_requested=True, finished_at=now).execution_options(synchronize_session=False)
    ).rowcount
    flagged = 0
    if not cancelled:
        flagged = session.execute(
            update(Experiment).where(Experiment.id == experiment_id, Experiment.status == "running")
            .values(cancel_requested=True).execution_options(synchronize_session=False)
        ).rowcount
    session.commit()
    row = session.get(Experiment, experiment_id, populate_existing=True)
    if row is None:
        raise ExperimentNotFound(experiment_id)
    if not cancelled and not flagged:
        raise ExperimentConflict(f"experiment {experiment_id!r} has already finished ({row.status}); "
                                 "only queued or running experiments can be cancelled")
    return row


# --- leaderboard ------------------------------------------------------------------------------

@dataclass
class LeaderboardEntry:
    rank: int
    model: str
    family: str | None
    dataset: str
    split_fingerprint: str
    spec_key: str
    metric: str
    value: float  # the mean over seeds
    std: float | None  # sample standard deviation; None with one seed
    n_seeds: int
    seeds: list[int]
    metrics: dict[str, float | None]  # every metric's mean over seeds
    experiment_id: str  # the best seed's experiment
    experiment_ids: list[str]
    mlflow_run_id: str | None
    mlflow_run_ids: list[str | None]
    spec: dict[str, Any] = field(default_factory=dict)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    mean = _mean(values)
    if mean is None or len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


FILTERS = ("dataset", "model", "family", "split_fingerprint")


@functools.lru_cache(maxsize=256)
def _board_query(metric: str, filters: tuple[str, ...], best_per_model: bool) -> Select[Any]:
    """The SELECT for one shape of request, its values left as bind parameters.

    Cached because building a SQLAlchemy select costs about as much as PostgreSQL takes to run this one
    (0.3 ms); statements are immutable, so sharing them between threads is safe.
    """
    mean = getattr(ResultGroup, f"{metric}_mean")
    seeds = getattr(ResultGroup, f"{metric}_n")
    conditions = [mean.is_not(None), *(getattr(ResultGroup, name) == bindparam(name) for name in filters)]
    ascending = metric in LOWER_IS_BETTER
    order = (mean.asc() if ascending else mean.desc(), seeds.desc(), ResultGroup.spec_key)
    columns = (ResultGroup.model, ResultGroup.family, ResultGroup.dataset, ResultGroup.split_fingerprint,
               ResultGroup.spec_key, ResultGroup.spec, ResultGroup.members)
    if best_per_model:
        ranked = select(
            ResultGroup.id, mean.label("mean"), seeds.label("seeds"),
            func.row_number().over(
                partition_by=(ResultGroup.model, ResultGroup.dataset, ResultGroup.split_fingerprint), order_by=order,
            ).label("rn"),
        ).where(*conditions).subquery()
        query = (select(*columns).join(ranked, ranked.c.id == ResultGroup.id).where(ranked.c.rn == 1)
                 .order_by(ranked.c.mean.asc() if ascending else ranked.c.mean.desc(), ranked.c.seeds.desc(),
                           ResultGroup.spec_key))
    else:
        query = select(*columns).where(*conditions).order_by(*order)
    return query.limit(bindparam("limit"))


def leaderboard(
    session: Session,
    *,
    metric: str = "accuracy",
    dataset: str | None = None,
    model: str | None = None,
    family: str | None = None,
    split_fingerprint: str | None = None,
    limit: int = 20,
    best_per_model: bool = False,
) -> list[LeaderboardEntry]:
    """Specs ranked by the mean of `metric` over their seeds (ascending for cost metrics).

    Groups are (spec_key, split_fingerprint): numbers from different splits are never averaged together.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; accepted: {', '.join(METRICS)}")
    given = {name: value for name, value in zip(FILTERS, (dataset, model, family, split_fingerprint))
             if value is not None}
    query = _board_query(metric, tuple(given), best_per_model)
    ascending = metric in LOWER_IS_BETTER
    entries = []
    # One statement over the groups alone: the hot path of GET /leaderboard.
    for row in session.execute(query, {**given, "limit": limit}).all():
        group = [m for m in row.members if m["metrics"].get(metric) is not None]
        if not group:  # a group edited by hand out of step with its means: leave it out, never a 500
            continue
        value, std = _mean_std([m["metrics"][metric] for m in group])
        best = (min if ascending else max)(group, key=lambda m: m["metrics"][metric])
        # Only the seeds that reported the ranking metric count, for every metric.
        means = {name: _mean([v for m in group if (v := m["metrics"].get(name)) is not None]) for name in METRICS}
        entries.append(LeaderboardEntry(
            rank=len(entries) + 1, model=row.model, family=row.family, dataset=row.dataset,
            split_fingerprint=row.split_fingerprint, spec_key=row.spec_key, metric=metric, value=value,  # type: ignore[arg-type]
            std=std, n_seeds=len(group), seeds=[m["seed"] for m in group], metrics=means,
            experiment_id=best["experiment_id"], experiment_ids=[m["experiment_id"] for m in group],
            mlflow_run_id=best["mlflow_run_id"], mlflow_run_ids=[m["mlflow_run_id"] for m in group],
            spec=dict(row.spec),
        ))
    return entries
