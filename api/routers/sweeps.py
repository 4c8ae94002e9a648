"""POST/GET /sweeps, GET /sweeps/{id}, POST /sweeps/{id}/cancel.

The API only checks the request, creates the study and asks it for the first `parallel` trials; the
workers run the trials, report to the study, and open the next trial whenever one ends.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.dataset_registration import uploaded_names
from api.deps import AppResources, get_session, require_read_key, require_write_key, resources
from api.http_errors import answer_as, found
from api.openapi_bodies import model_body
from api.schemas import Problem, SweepIn, SweepList, SweepOut
from api.sweep_submission import SweepRequest, parse_sweep
from api.sweep_views import sweep_out
from ferbench.db import sweeps
from ferbench.sweeps.advance import start_sweep, sync_sweep

router = APIRouter(tags=["sweeps"])

SweepId = Annotated[str, Path(min_length=1, max_length=64, description="Sweep id (uuid)")]


def _start(res: AppResources, request: SweepRequest) -> SweepOut:
    session = res.session_factory()()
    try:
        sweep = start_sweep(session, res.settings.resolved_database_url, request.to_row(), res.enqueue)
        return sweep_out(sweep, sweeps.trials_of(session, sweep.id), res.settings.mlflow_tracking_uri, with_trials=True)
    finally:
        session.close()


@router.post("/sweeps", status_code=202, response_model=SweepOut, dependencies=[Depends(require_write_key)],
             openapi_extra=model_body(SweepIn),
             responses={413: {"model": Problem}, 422: {"model": Problem}})
async def create_sweep(request: Request, res: AppResources = Depends(resources)) -> JSONResponse:
    """Check the sweep, create its study and queue its first `parallel` trials (each an ordinary experiment)."""
    checked = parse_sweep(await request.body(), res.settings,
                          lambda: uploaded_names(res.autocommit_session_factory()))
    out = await run_in_threadpool(_start, res, checked)
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@router.get("/sweeps", response_model=SweepList, dependencies=[Depends(require_read_key)])
def list_sweeps(session: Session = Depends(get_session), res: AppResources = Depends(resources),
                status: Annotated[str | None, Query(max_length=16)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> SweepList:
    """Newest first, each with its trial counts and best trial (not every trial)."""
    rows, total = sweeps.list_sweeps(session, status=status, limit=limit, offset=offset)
    uri = res.settings.mlflow_tracking_uri
    return SweepList(items=[sweep_out(r, sweeps.trials_of(session, r.id), uri, with_trials=False) for r in rows],
                     total=total, limit=limit, offset=offset)


@router.get("/sweeps/{sweep_id}", response_model=SweepOut, dependencies=[Depends(require_read_key)],
            responses={404: {"model": Problem}})
def get_sweep(sweep_id: SweepId, session: Session = Depends(get_session),
              res: AppResources = Depends(resources)) -> SweepOut:
    """Status, every trial (values, state, objective, experiments and MLflow runs) and the best trial's test metrics."""
    row = found(sweeps.get_sweep(session, sweep_id), "sweep", sweep_id)
    return sweep_out(row, sweeps.trials_of(session, sweep_id), res.settings.mlflow_tracking_uri, with_trials=True)


@router.post("/sweeps/{sweep_id}/cancel", status_code=202, response_model=SweepOut,
             dependencies=[Depends(require_write_key)], responses={404: {"model": Problem}, 409: {"model": Problem}})
def cancel_sweep(sweep_id: SweepId, session: Session = Depends(get_session),
                 res: AppResources = Depends(resources)) -> SweepOut:
    """No further trial starts; queued trials are cancelled at once, running ones stop within a batch. With no
    trial running the sweep ends `cancelled` at once (the workers' reaper then closes its MLflow run)."""
    with answer_as({sweeps.SweepNotFound: 404, sweeps.SweepConflict: 409}):
        sweeps.request_cancel(session, sweep_id)
    # The trials of the experiments cancelled just now end here: no worker will ever deliver them.
    sync_sweep(session, res.settings.resolved_database_url, sweep_id, res.enqueue)
    row = sweeps.get_sweep(session, sweep_id)
    return sweep_out(row, sweeps.trials_of(session, sweep_id), res.settings.mlflow_tracking_uri, with_trials=True)

