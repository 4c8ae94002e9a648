"""POST /ensembles (combine finished runs, queued like any experiment) and GET /compare (two runs on
the same test images, with a paired bootstrap and McNemar's test)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.orm import Session

from api.deps import AppResources, get_session, require_read_key, require_write_key, resources
from api.schemas import EnsembleIn, ExperimentOut, Problem
from api.views import experiment_out
from ferbench.db import ensembles, predictions
from ferbench.db.outbox import BrokerUnavailable

router = APIRouter(tags=["ensembles"])

ExperimentIdQuery = Annotated[str, Query(min_length=1, max_length=64, description="Experiment id")]


@router.post("/ensembles", status_code=202, response_model=ExperimentOut, dependencies=[Depends(require_write_key)],
             responses={404: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}})
def create_ensemble(body: EnsembleIn, session: Session = Depends(get_session),
                    res: AppResources = Depends(resources)) -> ExperimentOut:
    """Queue an ensemble of finished experiments: a worker combines their stored predictions (no training)
    into an experiment of its own (family `ensemble`), with its MLflow run and leaderboard row."""
    try:
        ids = body.members if body.members is not None else ensembles.top_members(
            session, ensembles.TopQuery(**body.top.model_dump()))  # type: ignore[union-attr]
        row = ensembles.create_ensemble(session, ids, body.method, enqueue=res.enqueue)
    except ensembles.Rejected as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    except BrokerUnavailable as exc:
        raise HTTPException(status_code=503, detail={
            "message": "the task broker is unreachable; the ensemble was kept pending and is sent when it is back",
            "pending_experiment_ids": exc.experiment_ids}, headers={"Retry-After": "5"}) from None
    return experiment_out(row, None, res.settings.mlflow_tracking_uri)


@router.get("/compare", dependencies=[Depends(require_read_key)],
            responses={404: {"model": Problem}, 422: {"model": Problem}})
def compare(a: ExperimentIdQuery, b: ExperimentIdQuery, session: Session = Depends(get_session)) -> dict[str, Any]:
    """a minus b on the same test images: accuracy and macro-F1 differences with paired-bootstrap 95%
    intervals, McNemar's exact p-value on the images only one of them got right, per-class F1 differences."""
    try:
        ensembles.check_members(session, [a, b])
        result = predictions.compare_experiments(session, a, b)
    except ensembles.Rejected as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {"a": a, "b": b, **dataclasses.asdict(result)}
