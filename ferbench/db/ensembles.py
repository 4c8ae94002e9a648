"""Ensembles and comparisons over stored results: which experiments are the members (ids, or the top
of a leaderboard), whether they can be combined, and the ensemble's own experiment row.

Refusals are typed (`Rejected` with the HTTP status the API answers), so the API and the CLI report
the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fer_models.evaluation.ensemble_run import ENSEMBLE_MODEL, EnsembleSpec
from ferbench.db.experiments import create_experiments
from ferbench.db.outbox import Enqueue
from ferbench.db.leaderboard import leaderboard
from ferbench.db.models import Experiment, Result, StoredPredictions


class Rejected(ValueError):
    """A request about experiments that cannot be honoured: `status` 404 (unknown ids) or 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TopQuery:
    """The best `k` specs of a leaderboard (each one's best seed is the member)."""

    dataset: str
    k: int
    metric: str = "accuracy"
    model: str | None = None
    split_fingerprint: str | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class Members:
    ids: list[str]
    dataset: str
    split_fingerprint: str
    protocol: str


def top_members(session: Session, query: TopQuery) -> list[str]:
    entries = leaderboard(session, metric=query.metric, dataset=query.dataset, model=query.model,
                          split_fingerprint=query.split_fingerprint, protocol=query.protocol, limit=query.k)
    if len(entries) < query.k:
        raise Rejected(422, f"top k={query.k} asked, but the {query.metric} leaderboard of {query.dataset}"
                            f"{f' for model {query.model}' if query.model else ''} has {len(entries)} "
                            f"entr{'y' if len(entries) == 1 else 'ies'}; accepted: k <= {len(entries)}")
    return [e.experiment_id for e in entries]


def check_members(session: Session, ids: Sequence[str]) -> Members:
    """The members as one combinable set, or Rejected naming every member that is not."""
    if not ids:
        raise Rejected(422, "members is empty; accepted: one or more experiment ids (or a top-k query)")
    distinct = list(dict.fromkeys(ids))
    rows = session.execute(
        select(Experiment.id, Experiment.status, Experiment.dataset, Result.split_fingerprint, Result.protocol,
               StoredPredictions.experiment_id.label("has_predictions"))
        .outerjoin(Result, Result.experiment_id == Experiment.id)
        .outerjoin(StoredPredictions, StoredPredictions.experiment_id == Experiment.id)
        .where(Experiment.id.in_(distinct))
    ).all()
    found = {r.id: r for r in rows}
    unknown = [i for i in distinct if i not in found]
    if unknown:
        raise Rejected(404, f"unknown experiment{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    unfinished = [f"{i} ({found[i].status})" for i in distinct if found[i].status != "succeeded"]
    if unfinished:
        raise Rejected(422, f"members must have succeeded: {', '.join(unfinished)}")
    for field, what in (("dataset", "dataset"), ("split_fingerprint", "split")):
        values = {i: getattr(found[i], field) for i in distinct}
        if len(set(values.values())) > 1:
            listed = ", ".join(f"{i} ({v})" for i, v in values.items())
            raise Rejected(422, f"members must share one {what}; they differ: {listed}")
    lacking = [i for i in distinct if found[i].has_predictions is None]
    if lacking:
        raise Rejected(422, f"no stored predictions for {', '.join(lacking)} (finished before FER Bench kept "
                            "them); run them again to combine or compare them")
    first = found[distinct[0]]
    return Members(list(ids), first.dataset, first.split_fingerprint, first.protocol)


def create_ensemble(session: Session, ids: Sequence[str], method: str, *, enqueue: Enqueue) -> Experiment:
    """Queue an ensemble of checked members as an experiment of its own (model and family `ensemble`)."""
    members = check_members(session, ids)
    spec: dict[str, Any] = {
        "model": ENSEMBLE_MODEL, "dataset": members.dataset, "seed": 0,
        "ensemble": EnsembleSpec(members=members.ids, method=method,  # type: ignore[arg-type]
                                 split_fingerprint=members.split_fingerprint,
                                 protocol=members.protocol).model_dump(mode="json"),
    }
    outcome = create_experiments(session, [spec], enqueue=enqueue, families={ENSEMBLE_MODEL: ENSEMBLE_MODEL})
    return outcome.experiments[0]
