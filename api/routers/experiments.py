"""POST/GET /experiments, GET /experiments/{id}, POST /experiments/{id}/cancel."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dataset_registration import uploaded_names
from api.deps import (
    AppResources,
    get_session,
    require_read_key,
    require_write_key,
    resources,
)
from api.http_errors import answer_as, found
from api.openapi_bodies import inline_defs, json_body
from api.schemas import ExperimentList, ExperimentOut, Problem, Status
from api.submission import parse_submission, spec_context
from api.views import experiment_out
from ferbench.db import experiments
from ferbench.db.hashing import sha256
from ferbench.db.models import Result
from ferbench.db.outbox import BrokerUnavailable
from ferbench.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["experiments"])

ExperimentId = Annotated[str, Path(min_length=1, max_length=64, description="Experiment id (uuid)")]


def _spec_schema(context: dict[str, Any]) -> dict[str, Any]:
    from fer_models.training.spec import capped_json_schema

    spec = inline_defs(capped_json_schema(context))
    spec["properties"]["repeats"] = {"type": "integer", "minimum": 1, "maximum": 100, "default": 1,
                                     "description": "Run this spec with seeds seed..seed+repeats-1"}
    return {"oneOf": [spec, {"type": "array", "items": spec, "minItems": 1}]}


def _submit_openapi(context: dict[str, Any]) -> dict[str, Any]:
    try:
        schema = _spec_schema(context)
    except Exception:  # noqa: BLE001 - the docs must render even if the spec module changes shape
        schema = {"type": "object"}
    return json_body(schema)


def _create(res: AppResources, specs: list[dict[str, Any]], key: str | None, body_hash: str) -> list[ExperimentOut]:
    from fer_models.models.registry import get_model_info

    families = {s["model"]: get_model_info(s["model"]).family for s in specs}
    session = res.session_factory()()
    try:
        outcome = experiments.create_experiments(session, specs, enqueue=res.enqueue, families=families,
                                                 idempotency_key=key, request_hash=body_hash)
        return [experiment_out(row, None, res.settings.mlflow_tracking_uri) for row in outcome.experiments]
    finally:
        session.close()


@router.post(
    "/experiments", status_code=202, dependencies=[Depends(require_write_key)],
    openapi_extra=_submit_openapi({}),
    responses={202: {"description": "One experiment (a single spec) or a list (a list body or repeats > 1)"},
               409: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}},
)
async def submit_experiments(
    request: Request,
    res: AppResources = Depends(resources),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    """Validate the spec(s) and queue them; retry safely with an `Idempotency-Key` header."""
    submission = parse_submission(await request.body(), res.settings,
                                  lambda: uploaded_names(res.autocommit_session_factory()))
    body_hash = sha256(submission.body)
    try:
        rows = await run_in_threadpool(_create, res, submission.specs, idempotency_key, body_hash)
    except experiments.IdempotencyConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except BrokerUnavailable as exc:
        log.warning("broker unavailable: %s", exc)
        raise HTTPException(status_code=503, detail={
            # Our own words, not str(exc): the cause's class name stays in the log.
            "message": f"the task broker is unreachable; {len(exc.experiment_ids)} experiment(s) kept pending. "
                       "Retry with the same Idempotency-Key, or wait: pending experiments are sent when the "
                       "broker is back.", "pending_experiment_ids": exc.experiment_ids},
            headers={"Retry-After": "5"}) from None
    payload = [r.model_dump(mode="json") for r in rows]
    return JSONResponse(payload[0] if submission.single and len(payload) == 1 else payload, status_code=202)


def _results_for(session: Session, ids: list[str]) -> dict[str, Result]:
    if not ids:
        return {}
    return {r.experiment_id: r for r in session.scalars(select(Result).where(Result.experiment_id.in_(ids)))}


@router.get("/experiments", response_model=ExperimentList, dependencies=[Depends(require_read_key)])
def list_experiments(
    session: Session = Depends(get_session),
    res: AppResources = Depends(resources),
    status: Status | None = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    dataset: Annotated[str | None, Query(max_length=64)] = None,
    group_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ExperimentList:
    """Newest first; filter by status, model, dataset or batch (group_id)."""
    rows, total = experiments.list_experiments(session, status=status, model=model, dataset=dataset,
                                               group_id=group_id, limit=limit, offset=offset)
    results = _results_for(session, [r.id for r in rows])
    uri = res.settings.mlflow_tracking_uri
    return ExperimentList(items=[experiment_out(r, results.get(r.id), uri) for r in rows], total=total,
                          limit=limit, offset=offset)


@router.get("/experiments/{experiment_id}", response_model=ExperimentOut, dependencies=[Depends(require_read_key)],
            responses={404: {"model": Problem}})
def get_experiment(experiment_id: ExperimentId, session: Session = Depends(get_session),
                   res: AppResources = Depends(resources)) -> ExperimentOut:
    """Status, spec, live progress, final metrics, MLflow run and its UI URL, error, attempts, timestamps."""
    row = found(experiments.get_experiment(session, experiment_id), "experiment", experiment_id)
    return experiment_out(row, experiments.get_result(session, experiment_id), res.settings.mlflow_tracking_uri)


@router.post("/experiments/{experiment_id}/cancel", status_code=202, response_model=ExperimentOut,
             dependencies=[Depends(require_write_key)], responses={404: {"model": Problem}, 409: {"model": Problem}})
def cancel_experiment(experiment_id: ExperimentId, session: Session = Depends(get_session),
                      res: AppResources = Depends(resources)) -> ExperimentOut:
    """Queued: cancelled at once. Running: the worker stops it within a batch. Finished: 409."""
    with answer_as({experiments.ExperimentNotFound: 404, experiments.ExperimentConflict: 409}):
        row = experiments.request_cancel(session, experiment_id)
    return experiment_out(row, None, res.settings.mlflow_tracking_uri)


def document_ranges_in_force(app: FastAPI, settings: Settings) -> None:
    """This app's request schema states its own caps, as its 422s do (every app shares the router's routes)."""
    generate = app.openapi
    capped = _submit_openapi(spec_context(settings))

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema["paths"]["/experiments"]["post"].update(capped)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
