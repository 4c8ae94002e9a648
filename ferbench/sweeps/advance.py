"""A sweep's progress: start it, and after any of its trials' experiments ends, bring it up to date.

`sync_sweep` is the one step, idempotent and safe to run from any process at any time: it ends the
open trials whose experiments have all finished (telling the study first, so a crash in between
only repeats a tell that is skipped), opens trials until `parallel` run or `n_trials` exist, and
ends the sweep once nothing is left to run. The primary key (sweep_id, number) of `sweep_trials`
makes every trial number exist once, so a redelivered message or two workers syncing at once can
never create an extra trial.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferbench.db import sweeps as sweep_rows
from ferbench.db.experiments import create_experiments
from ferbench.db.models import Sweep, SweepTrial, utcnow
from ferbench.db.outbox import BrokerUnavailable
from ferbench.sweeps import study
from ferbench.sweeps.space import apply

log = logging.getLogger(__name__)
Enqueue = Callable[[str], None]


def trial_specs(sweep: Sweep, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The experiments of one trial: the base spec with the trial's values, once per seed."""
    spec = apply(sweep.base_spec, values)
    seed = int(sweep.base_spec.get("seed", 0))
    return [{**spec, "seed": seed + k} for k in range(sweep.seeds)]


def _family(model: str) -> str | None:
    from fer_models.models.registry import get_model_info

    return get_model_info(model).family


def open_trial(session: Session, url: str, sweep: Sweep, number: int, enqueue: Enqueue) -> bool:
    """Ask the study for trial `number` and queue its experiments; False when another process made it first."""
    config = study.StudyConfig.of(sweep)
    asked = study.ask(url, config, number)
    trial = SweepTrial(sweep_id=sweep.id, number=number, optuna_trial_id=asked.optuna_trial_id,
                       params=asked.values, state="running", created_at=utcnow())
    try:
        create_experiments(session, trial_specs(sweep, asked.values), enqueue=enqueue,
                           families={sweep.model: _family(sweep.model)}, sweep_trial=trial)
    except IntegrityError:
        session.rollback()
        study.tell(url, config, asked.optuna_trial_id, "failed", None)  # asked for nothing: not left running
        return False
    except BrokerUnavailable as exc:
        log.warning("sweep %s trial %d: %s", sweep.id, number, exc)  # kept pending: the outbox sends it
    return True


def start_sweep(session: Session, url: str, sweep: Sweep, enqueue: Enqueue) -> Sweep:
    """Store the sweep, create its study, and queue its first `parallel` trials."""
    study.create(url, study.StudyConfig.of(sweep))
    sweep_rows.add_sweep(session, sweep)
    sync_sweep(session, url, sweep.id, enqueue)
    return sweep_rows.get_sweep(session, sweep.id)  # type: ignore[return-value]


def new_study_name() -> str:
    return f"ferbench-sweep-{uuid.uuid4().hex}"


@dataclass
class SyncOutcome:
    ended: list[int] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    finished: str | None = None  # the sweep's final status, when this call ended it


def sync_sweep(session: Session, url: str, sweep_id: str, enqueue: Enqueue) -> SyncOutcome:
    outcome = SyncOutcome()
    sweep = sweep_rows.get_sweep(session, sweep_id)
    if sweep is None or sweep.status != "running":
        return outcome
    config = study.StudyConfig.of(sweep)
    for ended in sweep_rows.ended_trials(session, sweep_id):
        study.tell(url, config, ended.optuna_trial_id, ended.state, ended.value)
        if sweep_rows.end_trial(session, sweep_id, ended):
            outcome.ended.append(ended.number)
    for _ in range(sweep.n_trials + sweep.parallel):  # bounded: each pass opens a trial or stops
        sweep = sweep_rows.lock_sweep(session, sweep_id)  # read again: a cancel may have arrived meanwhile
        counts = sweep_rows.trial_counts(session, sweep_id)
        if sweep is None or sweep.cancel_requested or counts.created >= sweep.n_trials or counts.open >= sweep.parallel:
            break
        if open_trial(session, url, sweep, counts.created, enqueue):  # commits, releasing the lock
            outcome.opened.append(counts.created)
    session.commit()
    sweep = sweep_rows.get_sweep(session, sweep_id)
    counts = sweep_rows.trial_counts(session, sweep_id)
    if sweep is not None and counts.open == 0 and (sweep.cancel_requested or counts.created >= sweep.n_trials):
        best = sweep_rows.best_trial(session, sweep)
        status = "cancelled" if sweep.cancel_requested else ("succeeded" if best is not None else "failed")
        error = None if status != "failed" else "no trial completed: every trial failed, was pruned or cancelled"
        if sweep_rows.finish_sweep(session, sweep_id, status, error):
            outcome.finished = status
    return outcome
