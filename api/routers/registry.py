"""POST /registry/promote and GET /registry: MLflow's model registry, for the models the API serves (TF-free)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.orm import Session

from api.deps import get_session, get_settings_dep, require_read_key, require_write_key
from api.schemas import ModelVersionOut, Problem, PromoteIn, RegistryOut
from ferbench.settings import Settings

router = APIRouter(tags=["registry"])
T = TypeVar("T")


def tracking_uri_of(settings: Settings) -> str:
    if not settings.mlflow_tracking_uri:
        raise HTTPException(status_code=503, detail="no MLflow tracking server is configured (MLFLOW_TRACKING_URI); "
                                                    "the registry lives there")
    return settings.mlflow_tracking_uri


def _or_503(call: Callable[[], T]) -> T:
    """A tracking server that is down or refuses: 503 naming it, never a trace (PromotionRefused passes)."""
    from mlflow.exceptions import MlflowException

    from fer_models.tracking.uri import TrackingError

    try:
        return call()
    except (MlflowException, TrackingError, OSError) as exc:
        if isinstance(exc, TrackingError):
            reason = str(exc)
        else:
            reason = "it did not answer as expected; retry later"
        raise HTTPException(status_code=503, detail=f"the MLflow registry is unavailable: {reason}",
                            headers={"Retry-After": "5"}) from None


def version_out(version: Any) -> dict[str, Any]:
    return {**dataclasses.asdict(version), "aliases": list(version.aliases), "tags": dict(version.tags),
            "experiment_id": version.experiment_id}


@router.post("/registry/promote", response_model=ModelVersionOut, dependencies=[Depends(require_write_key)],
             responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem},
                        503: {"model": Problem}})
def promote(body: PromoteIn, session: Session = Depends(get_session),
            settings: Settings = Depends(get_settings_dep)) -> dict[str, Any]:
    """Register a succeeded experiment's model as a new version of `name` and move `alias` onto it.

    409 for an experiment that has not succeeded (queued, running, failed, cancelled), 404 for an unknown one."""
    from ferbench.promotion import PromotionRefused, promote_experiment

    uri = tracking_uri_of(settings)
    try:
        version = _or_503(lambda: promote_experiment(session, body.experiment_id, tracking_uri=uri, name=body.name,
                                                     alias=body.alias))
    except PromotionRefused as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    return version_out(version)


@router.get("/registry", response_model=RegistryOut, dependencies=[Depends(require_read_key)],
            responses={503: {"model": Problem}})
def registry(settings: Settings = Depends(get_settings_dep)) -> dict[str, Any]:
    """Every registered model with its aliases and versions (each version's tags link to its experiment)."""
    from fer_models.tracking.model_registry import ModelRegistry

    models = _or_503(lambda: ModelRegistry(tracking_uri_of(settings)).list())
    return {"models": [{"name": m.name, "aliases": dict(m.aliases), "versions": [version_out(v) for v in m.versions]}
                       for m in models]}
