"""GET /experiments/{id}/plots[/{name}] and GET /sweeps/{id}/plots[/{name}]: the PNGs of an experiment's MLflow
run, or of a sweep's parent run (Optuna's plots), proxied from the tracking server.

The browser never talks to the tracking server itself: it may sit on a private network (compose), and
its CORS and Host rules are set for the api and worker. Only `mlflow` is imported here, never Keras.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import AppResources, get_session, require_read_key, resources
from api.http_errors import found
from api.routers.experiments import ExperimentId
from api.routers.sweeps import SweepId
from api.schemas import Problem
from ferbench.db.experiments import get_experiment
from ferbench.db.sweeps import get_sweep

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(require_read_key)])

PLOTS_DIR = "plots"  # where fer_models.training.engine logs its figures in the run
PLOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.png$")
# A page waits on these answers: without limits MLflow retries a dead server for minutes.
_MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class Plot(BaseModel):
    name: str
    url: str


class PlotList(BaseModel):
    experiment_id: str
    mlflow_run_id: str | None
    plots: list[Plot]


class SweepPlotList(BaseModel):
    sweep_id: str
    mlflow_run_id: str | None
    plots: list[Plot]


class TrackingUnavailable(Exception):
    pass


class RunMissing(Exception):
    """The tracking server answers but has no such run (deleted, or another server's)."""


def _missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def _client(tracking_uri: str) -> Any:
    for name, value in _MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)  # an operator's own setting wins
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _plot_names(tracking_uri: str, run_id: str) -> list[str]:
    try:
        files = _client(tracking_uri).list_artifacts(run_id, PLOTS_DIR)
    except Exception as exc:  # noqa: BLE001 - any other MLflow failure is "unavailable"; the cause goes to the log
        if _missing(exc):
            raise RunMissing from None
        log.warning("listing the plots of run %s failed: %r", run_id, exc)
        raise TrackingUnavailable from None
    names = [Path(f.path).name for f in files if not f.is_dir]
    return sorted(n for n in names if PLOT_NAME.match(n))


def _plot_bytes(tracking_uri: str, run_id: str, name: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ferbench-plot-") as tmp:
        try:
            local = _client(tracking_uri).download_artifacts(run_id, f"{PLOTS_DIR}/{name}", tmp)
        except Exception as exc:  # noqa: BLE001
            log.warning("downloading %s of run %s failed: %r", name, run_id, exc)
            raise TrackingUnavailable from None
        return Path(local).read_bytes()


def _tracking_uri(res: AppResources) -> str:
    uri = res.settings.mlflow_tracking_uri
    if not uri:
        raise HTTPException(status_code=503, detail="MLFLOW_TRACKING_URI is not set on the API server")
    return uri


def _run_of(session: Session, res: AppResources, experiment_id: str) -> tuple[str | None, str]:
    row = found(get_experiment(session, experiment_id), "experiment", experiment_id)
    return row.mlflow_run_id, _tracking_uri(res)


def _parent_run_of(session: Session, res: AppResources, sweep_id: str) -> tuple[str | None, str]:
    row = found(get_sweep(session, sweep_id), "sweep", sweep_id)
    return row.mlflow_run_id, _tracking_uri(res)


def _run_missing(run_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"the tracking server has no run {run_id}")


def _unavailable() -> HTTPException:
    return HTTPException(status_code=503, detail="the tracking server is unavailable; retry later",
                         headers={"Retry-After": "5"})


def _names(uri: str, run_id: str | None) -> list[str]:
    if run_id is None:
        return []
    try:
        return _plot_names(uri, run_id)
    except RunMissing:
        raise _run_missing(run_id) from None
    except TrackingUnavailable:
        raise _unavailable() from None


def _png(uri: str, run_id: str | None, name: str, owner: str) -> Response:
    # Only names the run lists are fetched: a name never becomes a path of the client's choosing.
    if run_id is None or not PLOT_NAME.match(name) or name not in _names(uri, run_id):
        raise HTTPException(status_code=404, detail=f"no plot {name!r} for {owner}")
    try:
        body = _plot_bytes(uri, run_id, name)
    except TrackingUnavailable:
        raise _unavailable() from None
    # A run's figures are written once, when it finishes.
    return Response(body, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


PNG = {200: {"content": {"image/png": {}}, "description": "The PNG"}, 404: {"model": Problem}, 503: {"model": Problem}}


@router.get("/experiments/{experiment_id}/plots", response_model=PlotList, tags=["experiments"],
            responses={404: {"model": Problem}, 503: {"model": Problem}})
def list_plots(experiment_id: ExperimentId, session: Session = Depends(get_session),
               res: AppResources = Depends(resources)) -> PlotList:
    """The figures its MLflow run holds under `plots/` (confusion matrix, training curves, ROC); empty before it has any."""
    run_id, uri = _run_of(session, res, experiment_id)
    return PlotList(experiment_id=experiment_id, mlflow_run_id=run_id,
                    plots=[Plot(name=n, url=f"/experiments/{experiment_id}/plots/{n}") for n in _names(uri, run_id)])


@router.get("/experiments/{experiment_id}/plots/{name}", response_class=Response, tags=["experiments"], responses=PNG)
def get_plot(experiment_id: ExperimentId,
             name: str = PathParam(max_length=128, description="A name from GET /experiments/{id}/plots"),
             session: Session = Depends(get_session), res: AppResources = Depends(resources)) -> Response:
    """One figure of the run, as PNG bytes."""
    run_id, uri = _run_of(session, res, experiment_id)
    return _png(uri, run_id, name, f"experiment {experiment_id!r}")


@router.get("/sweeps/{sweep_id}/plots", response_model=SweepPlotList, tags=["sweeps"],
            responses={404: {"model": Problem}, 503: {"model": Problem}})
def list_sweep_plots(sweep_id: SweepId, session: Session = Depends(get_session),
                     res: AppResources = Depends(resources)) -> SweepPlotList:
    """Optuna's figures on the sweep's parent run (optimisation history, parameter importances, parallel
    coordinates), logged once the sweep has ended; empty before."""
    run_id, uri = _parent_run_of(session, res, sweep_id)
    return SweepPlotList(sweep_id=sweep_id, mlflow_run_id=run_id,
                         plots=[Plot(name=n, url=f"/sweeps/{sweep_id}/plots/{n}") for n in _names(uri, run_id)])


@router.get("/sweeps/{sweep_id}/plots/{name}", response_class=Response, tags=["sweeps"], responses=PNG)
def get_sweep_plot(sweep_id: SweepId,
                   name: str = PathParam(max_length=128, description="A name from GET /sweeps/{id}/plots"),
                   session: Session = Depends(get_session), res: AppResources = Depends(resources)) -> Response:
    """One figure of the sweep's parent run, as PNG bytes."""
    run_id, uri = _parent_run_of(session, res, sweep_id)
    return _png(uri, run_id, name, f"sweep {sweep_id!r}")
