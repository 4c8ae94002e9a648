"""Sweeps' rows: create, read, list, cancel, and the trial bookkeeping the sweep's progress needs.

Write functions commit their own transaction; every state change is a conditional UPDATE, so of two
processes ending the same trial or finishing the same sweep exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ferbench.db.models import FINISHED, Experiment, Result, Sweep, SweepTrial, utcnow


class SweepNotFound(LookupError):
    def __init__(self, sweep_id: str) -> None:
        super().__init__(f"sweep {sweep_id!r} not found")


class SweepConflict(Exception):
    """The sweep is in a state that does not allow the request (cancelling a finished one)."""


def add_sweep(session: Session, sweep: Sweep) -> Sweep:
    session.add(sweep)
    session.commit()
    return sweep


def get_sweep(session: Session, sweep_id: str) -> Sweep | None:
    return session.get(Sweep, sweep_id, populate_existing=True)


def lock_sweep(session: Session, sweep_id: str) -> Sweep | None:
    """The sweep row, locked until this transaction ends on PostgreSQL, so that processes opening trials
    take turns (none asks the study for a trial it cannot keep). SQLite: unlocked, as the study writes
    through its own connection, which a held write lock would block; the trials' key still guards."""
    if session.get_bind().dialect.name == "postgresql":
        return session.get(Sweep, sweep_id, populate_existing=True, with_for_update=True)
    return get_sweep(session, sweep_id)


def list_sweeps(session: Session, *, status: str | None = None, limit: int = 50,
                offset: int = 0) -> tuple[list[Sweep], int]:
    """Newest first, and how many match."""
    where = [Sweep.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(Sweep).where(*where)) or 0
    rows = session.scalars(select(Sweep).where(*where).order_by(Sweep.created_at.desc(), Sweep.id)
                           .limit(limit).offset(offset))
    return list(rows), int(total)


@dataclass(frozen=True)
class TrialView:
    """A trial with its experiments (one per seed) and, for those that succeeded, their results."""

    trial: SweepTrial
    experiments: list[Experiment]
    results: dict[str, Result]


def trials_of(session: Session, sweep_id: str) -> list[TrialView]:
    fresh = {"populate_existing": True}  # rows changed by conditional UPDATEs since this session read them
    trials = list(session.scalars(select(SweepTrial).where(SweepTrial.sweep_id == sweep_id)
                                  .order_by(SweepTrial.number).execution_options(**fresh)))
    rows = list(session.scalars(select(Experiment).where(Experiment.sweep_id == sweep_id)
                                .order_by(Experiment.trial_number, Experiment.batch_index).execution_options(**fresh)))
    ids = [r.id for r in rows]
    results = {r.experiment_id: r for r in session.scalars(select(Result).where(Result.experiment_id.in_(ids)))} \
        if ids else {}
    by_number: dict[int, list[Experiment]] = {}
    for row in rows:
        by_number.setdefault(int(row.trial_number or 0), []).append(row)
    return [TrialView(t, by_number.get(t.number, []), {e.id: results[e.id] for e in by_number.get(t.number, [])
                                                        if e.id in results}) for t in trials]


@dataclass(frozen=True)
class TrialCounts:
    created: int
    open: int  # created and not yet ended


def trial_counts(session: Session, sweep_id: str) -> TrialCounts:
    rows = dict(session.execute(select(SweepTrial.state, func.count()).where(SweepTrial.sweep_id == sweep_id)
                                .group_by(SweepTrial.state)).all())
    return TrialCounts(created=int(sum(rows.values())), open=int(rows.get("running", 0)))


@dataclass(frozen=True)
class EndedTrial:
    """An open trial whose every experiment has finished, and how it ended."""

    number: int
    optuna_trial_id: int
    state: str  # complete, pruned, failed or cancelled
    value: float | None


def trial_outcome(statuses: Sequence[str], values: Sequence[float | None]) -> tuple[str, float | None]:
    """How a trial ended from its seeds' statuses: pruned if any was, failed or cancelled likewise; else
    complete with the mean of the seeds' objective values (failed when one has none)."""
    for status, state in (("pruned", "pruned"), ("failed", "failed"), ("cancelled", "cancelled")):
        if status in statuses:
            return state, None
    if any(v is None for v in values) or not values:
        return "failed", None
    return "complete", float(sum(values)) / len(values)  # type: ignore[arg-type]


def ended_trials(session: Session, sweep_id: str) -> list[EndedTrial]:
    """Open trials all of whose experiments have finished (the rest are still training or queued)."""
    trials = list(session.scalars(select(SweepTrial).where(SweepTrial.sweep_id == sweep_id,
                                                           SweepTrial.state == "running")))
    out = []
    for trial in trials:
        rows = session.execute(select(Experiment.status, Experiment.sweep_value).where(
            Experiment.sweep_id == sweep_id, Experiment.trial_number == trial.number)).all()
        if not rows or any(r.status not in FINISHED for r in rows):
            continue
        state, value = trial_outcome([r.status for r in rows], [r.sweep_value for r in rows])
        out.append(EndedTrial(trial.number, trial.optuna_trial_id, state, value))
    session.commit()
    return out


def end_trial(session: Session, sweep_id: str, ended: EndedTrial) -> bool:
    changed = session.execute(
        update(SweepTrial).where(SweepTrial.sweep_id == sweep_id, SweepTrial.number == ended.number,
                                 SweepTrial.state == "running")
        .values(state=ended.state, value=ended.value, ended_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return changed == 1


def finish_sweep(session: Session, sweep_id: str, status: str, error: str | None = None) -> bool:
    """running -> succeeded | failed | cancelled, once."""
    changed = session.execute(
        update(Sweep).where(Sweep.id == sweep_id, Sweep.status == "running")
        .values(status=status, error=error, finished_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return changed == 1


def set_parent_run(session: Session, sweep_id: str, run_id: str) -> str:
    """Store the sweep's MLflow parent run unless another process stored one first; returns the one in force."""
    session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.mlflow_run_id.is_(None))
                    .values(mlflow_run_id=run_id).execution_options(synchronize_session=False))
    session.commit()
    return str(session.scalar(select(Sweep.mlflow_run_id).where(Sweep.id == sweep_id)))


def running_sweeps(session: Session) -> list[str]:
    return list(session.scalars(select(Sweep.id).where(Sweep.status == "running").order_by(Sweep.created_at)))


def unclosed_sweeps(session: Session) -> list[str]:
    """Ended sweeps whose MLflow parent run nobody has closed yet (ended by the API's cancel, or their closer died)."""
    return list(session.scalars(select(Sweep.id).where(Sweep.status != "running", Sweep.parent_run_closed.is_(False))
                                .order_by(Sweep.created_at)))


def claim_parent_run_close(session: Session, sweep_id: str, lease_s: float) -> bool:
    """The right to close an ended sweep's parent run: True for one caller at a time. A claim older than `lease_s`
    is taken again (its closer died between claiming and closing)."""
    now = utcnow()
    changed = session.execute(
        update(Sweep).where(Sweep.id == sweep_id, Sweep.status != "running", Sweep.parent_run_closed.is_(False),
                            or_(Sweep.parent_run_claimed_at.is_(None),
                                Sweep.parent_run_claimed_at < now - timedelta(seconds=lease_s)))
        .values(parent_run_claimed_at=now).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return changed == 1


def end_parent_run_close(session: Session, sweep_id: str, *, closed: bool) -> None:
    """The claim's end: closed for good, or released (the tracking server is down) for a later pass."""
    values = {"parent_run_closed": True} if closed else {"parent_run_claimed_at": None}
    session.execute(update(Sweep).where(Sweep.id == sweep_id).values(**values)
                    .execution_options(synchronize_session=False))
    session.commit()


def request_cancel(session: Session, sweep_id: str) -> Sweep:
    """Flag the sweep (no trial is created after this), cancel its queued experiments at once and flag the
    running ones for their workers. Raises SweepNotFound, or SweepConflict when it already ended."""
    sweep = get_sweep(session, sweep_id)
    if sweep is None:
        raise SweepNotFound(sweep_id)
    if sweep.status != "running":
        raise SweepConflict(f"sweep {sweep_id!r} has already ended ({sweep.status}); only a running sweep "
                            "can be cancelled")
    now = utcnow()
    session.execute(update(Sweep).where(Sweep.id == sweep_id).values(cancel_requested=True)
                    .execution_options(synchronize_session=False))
    session.execute(update(Experiment).where(Experiment.sweep_id == sweep_id,
                                             Experiment.status.in_(("queued", "pending")))
                    .values(status="cancelled", cancel_requested=True, finished_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(update(Experiment).where(Experiment.sweep_id == sweep_id, Experiment.status == "running")
                    .values(cancel_requested=True).execution_options(synchronize_session=False))
    session.commit()
    return get_sweep(session, sweep_id)  # type: ignore[return-value]


def best_trial(session: Session, sweep: Sweep) -> SweepTrial | None:
    """The complete trial with the best objective (the first such on ties)."""
    order = SweepTrial.value.desc() if sweep.direction == "maximize" else SweepTrial.value.asc()
    return session.scalars(select(SweepTrial).where(SweepTrial.sweep_id == sweep.id, SweepTrial.state == "complete",
                                                    SweepTrial.value.is_not(None))
                           .order_by(order, SweepTrial.number).limit(1)).first()


def best_of(trials: Sequence[TrialView], direction: str) -> TrialView | None:
    """The complete trial with the best objective (the lowest number on ties)."""
    complete = [v for v in trials if v.trial.state == "complete" and v.trial.value is not None]
    sign = 1 if direction == "maximize" else -1
    return max(complete, key=lambda v: (sign * float(v.trial.value), -v.trial.number), default=None)  # type: ignore[arg-type]


def mean_test_metrics(results: Mapping[str, Result], metrics: Sequence[str]) -> dict[str, float | None]:
    """Each metric's mean over a trial's seeds that have a result (null where none reported it)."""
    out: dict[str, float | None] = {}
    for metric in metrics:
        values = [getattr(r, metric) for r in results.values() if getattr(r, metric) is not None]
        out[metric] = float(sum(values) / len(values)) if values else None
    return out


def sweep_status(sweep: Sweep) -> str:
    """What clients see: a running sweep asked to stop shows as `cancelling` until its trials have ended."""
    return "cancelling" if sweep.status == "running" and sweep.cancel_requested else sweep.status

