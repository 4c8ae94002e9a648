"""Stored predictions in SQL: loading them for ensembles and comparisons, and marking the leaderboard
rows whose difference from the top row is within noise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fer_models.evaluation.predictions import Predictions
from ferbench.db.models import Experiment, StoredPredictions

if TYPE_CHECKING:
    from ferbench.db.leaderboard import LeaderboardEntry

SIGNIFICANCE_LEVEL = 0.05


class PredictionsUnavailable(LookupError):
    """Experiments that do not exist (`unknown`) or have no stored predictions (`missing`, with why)."""

    def __init__(self, unknown: Sequence[str], missing: dict[str, str]) -> None:
        self.unknown, self.missing = list(unknown), dict(missing)
        parts = [f"unknown experiment {i}" for i in self.unknown]
        parts += [f"experiment {i}: {why}" for i, why in self.missing.items()]
        super().__init__("; ".join(parts))


def load_predictions(session: Session, experiment_ids: Sequence[str]) -> dict[str, Predictions]:
    """Every experiment's predictions, or PredictionsUnavailable naming each one that has none and why."""
    wanted = list(dict.fromkeys(experiment_ids))
    rows = session.execute(
        select(Experiment.id, Experiment.status, StoredPredictions.npz)
        .outerjoin(StoredPredictions, StoredPredictions.experiment_id == Experiment.id)
        .where(Experiment.id.in_(wanted))
    ).all()
    found = {r.id: r for r in rows}
    unknown = [i for i in wanted if i not in found]
    missing = {}
    for i in wanted:
        row = found.get(i)
        if row is None or row.npz is not None:
            continue
        missing[i] = (f"it is {row.status}, not succeeded" if row.status != "succeeded" else
                      "no stored predictions (it finished before FER Bench kept them; run it again)")
    if unknown or missing:
        raise PredictionsUnavailable(unknown, missing)
    return {i: Predictions.from_bytes(found[i].npz, source=f"experiment {i}'s predictions") for i in wanted}


def mark_differences(session: Session, entries: Sequence[LeaderboardEntry]) -> None:
    """Set `differs_from_top` on each row below the top one: McNemar's exact test between the rows' best
    seeds on the same test images. Left None where the split differs or predictions are missing."""
    from fer_models.evaluation.significance import mcnemar_exact

    if len(entries) < 2:
        return
    ids = [e.experiment_id for e in entries]
    stored = dict(session.execute(select(StoredPredictions.experiment_id, StoredPredictions.npz)
                                  .where(StoredPredictions.experiment_id.in_(ids))).all())
    top = entries[0]
    if top.experiment_id not in stored:
        return
    top_pred = Predictions.from_bytes(stored[top.experiment_id])
    top_right = top_pred.test_probs.argmax(axis=1) == top_pred.test_labels
    for entry in entries[1:]:
        if entry.split_fingerprint != top.split_fingerprint or entry.experiment_id not in stored:
            continue
        pred = Predictions.from_bytes(stored[entry.experiment_id])
        if len(pred.test_labels) != len(top_right) or not np.array_equal(pred.test_labels, top_pred.test_labels):
            continue
        right = pred.test_probs.argmax(axis=1) == pred.test_labels
        p = mcnemar_exact(int(np.sum(top_right & ~right)), int(np.sum(~top_right & right)))
        entry.differs_from_top = bool(p < SIGNIFICANCE_LEVEL)


def compare_experiments(session: Session, a: str, b: str) -> Any:
    """fer_models' paired Comparison of two finished experiments on the same test images (a minus b).

    Raises PredictionsUnavailable (unknown ids, no predictions) or ValueError (other test images)."""
    from fer_models.evaluation.significance import paired_comparison

    found = load_predictions(session, [a, b])
    pa, pb = found[a], found[b]
    if pa.split_fingerprint != pb.split_fingerprint or not np.array_equal(pa.test_labels, pb.test_labels):
        raise ValueError(f"experiments {a} and {b} were tested on different splits ({pa.split_fingerprint} and "
                         f"{pb.split_fingerprint}); accepted: two experiments on the same split")
    return paired_comparison(pa.test_labels, pa.test_probs, pb.test_probs, class_names=pa.class_names)
