"""An ensemble as an experiment: combine finished runs' stored predictions (no training, no model
loaded), evaluate the result like any run, and log it to MLflow with links to its members.

The worker supplies the members' predictions (from the service's database); this module checks that
they fit together, weights them on validation (fer_models.evaluation.ensembles) and reports the test
figures with the same metrics, intervals and artifacts as a trained run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fer_models.errors import FerBenchError
from fer_models.evaluation.ensembles import EnsembleMethod, combine, ensemble_weights
from fer_models.evaluation.predictions import ARTIFACT_DIR, ARTIFACT_FILE, Predictions, interval_metrics
from fer_models.training.hooks import ExperimentResult

ENSEMBLE_MODEL = "ensemble"  # the `model` (and family) of an ensemble's experiment row


class EnsembleError(FerBenchError):
    """Members that cannot be combined (other splits or classes, no predictions)."""


class EnsembleSpec(BaseModel):
    """What an ensemble experiment stores under its spec's `ensemble` key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: list[str] = Field(min_length=1, description="Experiment ids; one given twice weighs double")
    method: EnsembleMethod = Field("mean", description="mean: average probabilities; weighted: weights fitted "
                                   "on validation log loss; greedy: Caruana et al. 2004 selection on validation")
    split_fingerprint: str = Field(description="The split every member was evaluated on")
    protocol: str = Field("holdout", description="The members' protocol (official or holdout)")


def is_ensemble(spec: Mapping[str, Any]) -> bool:
    return spec.get("model") == ENSEMBLE_MODEL and "ensemble" in spec


@dataclass(frozen=True)
class Ensemble:
    weights: dict[str, float]  # per distinct member, summed over its repeats
    predictions: Predictions
    metrics: dict[str, float]
    report: Any  # ClassificationReport
    combine_seconds: float


def check_members(members: Mapping[str, Predictions], split_fingerprint: str | None = None) -> str:
    """The members' common split fingerprint; EnsembleError naming each member that differs."""
    fingerprints = Counter(p.split_fingerprint for p in members.values())
    expected = split_fingerprint or fingerprints.most_common(1)[0][0]
    differ = {i: p.split_fingerprint for i, p in members.items() if p.split_fingerprint != expected}
    if differ:
        listed = ", ".join(f"{i} ({fp})" for i, fp in differ.items())
        raise EnsembleError(f"members must share one split: expected split {expected}, but {listed} differ")
    first = next(iter(members.values()))
    for i, p in members.items():
        if p.class_names != first.class_names or not np.array_equal(p.test_labels, first.test_labels):
            raise EnsembleError(f"member {i} was evaluated on other test images or classes than the others")
    return expected


def build_ensemble(spec: EnsembleSpec, members: Mapping[str, Predictions]) -> Ensemble:
    from fer_models.evaluation.metrics import classification_report

    check_members(members, spec.split_fingerprint)
    start = time.perf_counter()
    first = members[spec.members[0]]
    val = [members[i].val_probs for i in spec.members]
    weights = ensemble_weights(spec.method, val, first.val_labels) if len(first.val_labels) else [1.0] * len(val)
    test_probs = combine([members[i].test_probs for i in spec.members], weights)
    val_probs = combine(val, weights)
    seconds = time.perf_counter() - start
    report = classification_report(first.test_labels, test_probs, list(first.class_names))
    per_member: dict[str, float] = {}
    for member, weight in zip(spec.members, weights):
        per_member[member] = per_member.get(member, 0.0) + float(weight)
    predictions = Predictions(first.split_fingerprint, first.class_names, first.val_labels, val_probs,
                              first.test_labels, test_probs)
    metrics = {**report.metrics, **interval_metrics(first.test_labels, test_probs), "combine_seconds": seconds}
    return Ensemble(per_member, predictions, metrics, report, seconds)


def run_ensemble(spec: EnsembleSpec, members: Mapping[str, Predictions], *, dataset: str,
                 member_runs: Mapping[str, str | None], tracking_uri: str | None, mlflow_run_id: str | None = None,
                 tags: Mapping[str, str] | None = None) -> ExperimentResult:
    """Combine, evaluate and (with a tracking URI) log one ensemble; the result a worker records."""
    ensemble = build_ensemble(spec, members)
    run_id = mlflow_run_id
    if tracking_uri is not None:
        run_id = _log(ensemble, spec, dataset, member_runs, tracking_uri, mlflow_run_id, tags or {})
    return ExperimentResult(
        status="succeeded", metrics=ensemble.metrics, per_class=ensemble.report.per_class,
        confusion_matrix=ensemble.report.confusion_matrix, history={}, mlflow_run_id=run_id,
        dataset_fingerprint="", split_fingerprint=spec.split_fingerprint, epochs_completed=0,
        protocol=spec.protocol, predictions=ensemble.predictions,
    )


def _log(ensemble: Ensemble, spec: EnsembleSpec, dataset: str, member_runs: Mapping[str, str | None],
         tracking_uri: str, run_id: str | None, tags: Mapping[str, str]) -> str:
    import tempfile
    from pathlib import Path

    from fer_models.evaluation.plots import plot_confusion_matrix
    from fer_models.tracking.run_logger import RunLogger, final_metric_keys

    logger = RunLogger(tracking_uri)
    repeats = Counter(spec.members)
    note = [f"Ensemble ({spec.method}) of {len(spec.members)} members on {dataset}:", ""]
    for member, weight in ensemble.weights.items():
        run = member_runs.get(member)
        link = f"[run {run}](#/experiments/{logger.client.get_run(run).info.experiment_id}/runs/{run})" if run else "no run"
        twice = f", given {repeats[member]} times" if repeats[member] > 1 else ""
        note.append(f"- experiment {member}: weight {weight:.3f}{twice}, {link}")
    run_id = logger.open(dataset, run_id=run_id, run_name=f"ensemble-{spec.method}-{dataset}", tags={
        **tags, "model": ENSEMBLE_MODEL, "family": ENSEMBLE_MODEL, "dataset": dataset,
        "split_fingerprint": spec.split_fingerprint, "protocol": spec.protocol,
        "member_experiment_ids": ",".join(spec.members),
        "member_run_ids": ",".join(member_runs.get(m) or "" for m in spec.members),
        "mlflow.note.content": "\n".join(note)})
    try:
        logger.log_params({"method": spec.method, "n_members": len(spec.members), "members": ",".join(spec.members),
                           **{f"weight.{m}": round(w, 6) for m, w in ensemble.weights.items()}})
        logger.log_metrics(final_metric_keys(ensemble.metrics))
        names = list(ensemble.predictions.class_names)
        with tempfile.TemporaryDirectory(prefix="ferbench-ensemble-") as tmp:
            logger.log_artifact(plot_confusion_matrix(ensemble.report.confusion_matrix, names,
                                                      Path(tmp) / "confusion_matrix.png",
                                                      title=f"Normalised confusion matrix: ensemble on {dataset}"),
                                "plots")
        logger.log_json({"class_names": names, "per_class": ensemble.report.per_class,
                         "confusion_matrix": ensemble.report.confusion_matrix, "metrics": ensemble.metrics,
                         "weights": ensemble.weights}, "per_class_report.json")
        logger.log_bytes(ensemble.predictions.to_bytes(), ARTIFACT_DIR, ARTIFACT_FILE)
    except BaseException as exc:
        logger.finish("FAILED", error=f"{type(exc).__name__}: {exc}")
        raise
    logger.finish("FINISHED")
    return run_id

