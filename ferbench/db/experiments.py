"""Experiments as the API sees them: create (and enqueue), read, list, cancel.

Write functions commit their own transaction. State changes are single conditional UPDATEs
(`... WHERE id=? AND status IN (...)`), so two processes racing on the same row can never both win:
the database decides, not the caller's stale copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferbench.db.hashing import spec_key
from ferbench.db.models import Experiment, Result, SweepTrial, utcnow
from ferbench.db.outbox import PENDING_SEND_GRACE_S, Enqueue, send


class ExperimentNotFound(LookupError):
    def __init__(self, experiment_id: str) -> None:
        super().__init__(f"experiment {experiment_id!r} not found")


class ExperimentConflict(Exception):
    """The experiment is in a state that does not allow the request (e.g. cancelling a finished one)."""


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused with a different request body."""


# --- create -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateOutcome:
    experiments: list[Experiment]
    created: bool  # False: an earlier request with the same Idempotency-Key made them


def _by_idempotency_key(session: Session, key: str) -> list[Experiment]:
    stmt = select(Experiment).where(Experiment.idempotency_key == key).order_by(Experiment.batch_index)
    return list(session.scalars(stmt))


def _fresh(session: Session, ids: list[str]) -> list[Experiment]:
    return [row for i in ids if (row := session.get(Experiment, i)) is not None]


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
    ids = [r.id for r in rows]
    send(session, [i for i in ids if i in stale], enqueue)
    return CreateOutcome(experiments=_fresh(session, ids), created=False)


def create_experiments(
    session: Session,
    specs: Sequence[Mapping[str, Any]],
    *,
    enqueue: Enqueue,
    families: Mapping[str, str | None] | None = None,
    group_id: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    sweep_trial: SweepTrial | None = None,
) -> CreateOutcome:
    """Insert one row per spec as `pending`, commit, send each, then mark it `queued`.

    A row is never `queued` unless its message was accepted; on a broker failure the rows stay
    `pending` (drained later by `outbox.drain_outbox`) and BrokerUnavailable is raised.
    `sweep_trial`: the rows are that trial's seeds, inserted in the same transaction as it (its key
    refuses a second trial of the same number: IntegrityError, nothing inserted).
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
            sweep_id=sweep_trial.sweep_id if sweep_trial else None,
            trial_number=sweep_trial.number if sweep_trial else None,
        )
        for i, spec in enumerate(specs)
    ]
    if sweep_trial is not None:
        session.add(sweep_trial)
        session.flush()  # the trial first: its key is the guard, checked before any experiment exists
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
    ids = [r.id for r in rows]
    send(session, ids, enqueue)
    return CreateOutcome(experiments=_fresh(session, ids), created=True)


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


# --- cancel -----------------------------------------------------------------------------------

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
