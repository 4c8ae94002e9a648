"""Promote a finished experiment: its run's model becomes a new version of a registered model in
MLflow's registry, tagged with where it came from, and an alias moves onto it. Shared by
`POST /registry/promote` and `ferbench promote` (TF-free).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from fer_models.errors import FerBenchError
from fer_models.tracking.model_registry import EXPERIMENT_TAG, ModelRegistry, VersionInfo
from ferbench.db.experiments import get_experiment, get_result

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class PromotionRefused(FerBenchError):
    """The experiment cannot be promoted; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_names(name: str, alias: str) -> None:
    if not _NAME.match(name):
        raise PromotionRefused(f"registered model name {name!r} is not accepted: use letters, digits, '.', '_' "
                               "or '-', starting with a letter or digit, at most 128 characters", 422)
    # MLflow reserves `latest` and `v<number>` (they would shadow version references).
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"v\d+", alias, re.IGNORECASE):
        raise PromotionRefused(f"alias {alias!r} is not accepted: use letters, digits, '_' or '-', starting with "
                               "a letter or '_', at most 64 characters, and not 'latest' or 'v<number>'", 422)


def _checked_run(session: Session, experiment_id: str) -> tuple[Any, Any]:
    row = get_experiment(session, experiment_id)
    if row is None:
        raise PromotionRefused(f"no experiment {experiment_id!r}", 404)
    if row.status != "succeeded":
        hint = "wait until it has finished" if row.status in ("pending", "queued", "running") else \
            "only a succeeded experiment has a tested model to register"
        raise PromotionRefused(f"experiment {experiment_id} is {row.status}: {hint} "
                               f"(promote accepts succeeded experiments only)", 409)
    if row.family == "ensemble":
        raise PromotionRefused(f"experiment {experiment_id} is an ensemble: it has no single model to register; "
                               "promote one of its members", 422)
    result = get_result(session, experiment_id)
    if not row.mlflow_run_id or result is None:
        raise PromotionRefused(f"experiment {experiment_id} has no MLflow run with a logged model to register", 409)
    return row, result


def promote_experiment(session: Session, experiment_id: str, *, tracking_uri: str, name: str,
                       alias: str) -> VersionInfo:
    """Register the experiment's model as a new version of `name` and point `alias` at it."""
    from fer_models.tracking.keras_model import MODEL_ARTIFACT_PATH
    from fer_models.tracking.logged_model import run_model_id

    check_names(name, alias)
    row, result = _checked_run(session, experiment_id)
    registry = ModelRegistry(tracking_uri)
    run_id = row.mlflow_run_id
    run_tags = registry.client.get_run(run_id).data.tags
    model_id = run_model_id(registry.client, run_id)
    # A run logged before MLflow 3's logged models keeps its model as a run artifact only.
    source = f"models:/{model_id}" if model_id else f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}"
    tags = {
        EXPERIMENT_TAG: experiment_id,
        "model": row.model,
        "dataset": row.dataset,
        "split_fingerprint": result.split_fingerprint,
        "dataset_fingerprint": run_tags.get("dataset_fingerprint", "unknown"),
        "recipe": (row.spec or {}).get("recipe") or "none",
        "test_accuracy": f"{result.accuracy:.6f}" if result.accuracy is not None else "unknown",
        "protocol": result.protocol,
        "mlflow_run_id": run_id,
    }
    return registry.register(name=name, source=source, run_id=run_id, model_id=model_id, alias=alias, tags=tags)
