"""POST /reports/writeup makes the write-up table from finished experiments; GET serves the latest (TF-free).

The report is computed here, from this service's own rows, so the table is the same whoever asked for it;
it is stored as made (SQL table `reports`) and logged to MLflow (experiment `ferbench-reports`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import AppResources, get_session, require_read_key, require_write_key, resources
from api.links import mlflow_url
from api.schemas import Problem, WriteupReportIn, WriteupReportOut
from ferbench.db.models import FINISHED, Report
from ferbench.db.reports import ReportNotFound, find_report, load_members, save_report

router = APIRouter(tags=["reports"], dependencies=[Depends(require_read_key)])
KIND = "writeup"
ReportId = Annotated[str | None, Query(alias="id", max_length=36, description="A report's id; default: the latest")]


def _out(report: Report, tracking_uri: str | None) -> WriteupReportOut:
    body = report.body
    return WriteupReportOut(
        id=report.id, title=body["title"], scale=body["scale"], quick=body["quick"], dataset=report.dataset,
        seeds=body["seeds"], rows=body["rows"], markdown=report.markdown,
        png_url=f"/reports/{KIND}.png?id={report.id}", experiment_ids=report.experiment_ids,
        mlflow_run_id=report.mlflow_run_id, mlflow_url=mlflow_url(tracking_uri, report.mlflow_run_id),
        mlflow_error=report.mlflow_error, created_at=report.created_at)


def _found(session: Session, report_id: str | None) -> Report:
    try:
        return find_report(session, KIND, report_id)
    except ReportNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.post("/reports/writeup", status_code=201, response_model=WriteupReportOut,
             dependencies=[Depends(require_write_key)],
             responses={409: {"model": Problem, "description": "Some experiments have not finished"},
                        422: {"model": Problem, "description": "Unknown experiments, or not write-up recipes"}})
def make_writeup_report(request: WriteupReportIn, session: Session = Depends(get_session),
                        res: AppResources = Depends(resources)) -> WriteupReportOut:
    """Tabulate finished experiments of `writeup-*` recipes: the write-up's figures beside ours (mean ± std over
    seeds), as Markdown and PNG; stored (GET /reports/writeup) and logged to MLflow."""
    from ferbench.reports.writeup_plan import writeup_recipes
    from ferbench.reports.writeup_png import render_png
    from ferbench.reports.writeup_table import build_report, render_markdown

    members, missing = load_members(session, request.experiment_ids)
    if missing:
        raise HTTPException(status_code=422, detail=f"no such experiment(s): {', '.join(missing)}")
    names = {r.name for r in writeup_recipes()}
    strangers = [m.experiment_id for m in members if m.recipe not in names]
    if strangers:
        raise HTTPException(status_code=422, detail=f"not trained with a write-up recipe (writeup-*): "
                                                    f"{', '.join(strangers)}")
    datasets = sorted({m.dataset for m in members})
    if len(datasets) > 1:
        raise HTTPException(status_code=422, detail=f"one report is of one dataset; got {', '.join(datasets)}")
    running = [m.experiment_id for m in members if m.status not in FINISHED]
    if running:
        raise HTTPException(status_code=409, detail=f"not finished yet: {', '.join(running)}")
    report = build_report(members, dataset=datasets[0])
    markdown, png = render_markdown(report), render_png(report)
    run_id, error = _log(res.settings.mlflow_tracking_uri, report.to_dict(), request.experiment_ids, markdown, png)
    row = save_report(session, kind=KIND, dataset=report.dataset, scale=report.scale, body=report.to_dict(),
                      markdown=markdown, png=png, experiment_ids=request.experiment_ids, mlflow_run_id=run_id,
                      mlflow_error=error)
    return _out(row, res.settings.mlflow_tracking_uri)


def _log(tracking_uri: str | None, body: dict, ids: list[str], markdown: str, png: bytes) -> tuple[str | None, str | None]:
    """The MLflow run's id, or why there is none (the report is kept either way)."""
    from ferbench.reports.tracking import log_report_run

    if not tracking_uri:
        return None, "the API has no MLFLOW_TRACKING_URI"
    params = {"kind": KIND, "dataset": body["dataset"], "seeds": body["seeds"], "quick": body["quick"],
              "scale": body["scale"], "models": ",".join(r["model"] for r in body["rows"]),
              "experiment_ids": ",".join(ids)}
    try:
        run_id = log_report_run(tracking_uri, name=f"{KIND}-{body['scale']}-{body['dataset']}", params=params,
                                files={"table.md": markdown.encode(), "table.png": png})
    except Exception as exc:  # noqa: BLE001 - the stored report says why it is not in MLflow
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    return run_id, None


@router.get("/reports/writeup", response_model=WriteupReportOut,
            responses={404: {"model": Problem, "description": "No write-up report has been made yet"}})
def writeup_report(report_id: ReportId = None, session: Session = Depends(get_session),
                   res: AppResources = Depends(resources)) -> WriteupReportOut:
    """The latest write-up report (or `id`): rows, Markdown, whether it is quick, its MLflow run."""
    return _out(_found(session, report_id), res.settings.mlflow_tracking_uri)


@router.get("/reports/writeup.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": Problem}})
def writeup_report_png(report_id: ReportId = None, session: Session = Depends(get_session)) -> Response:
    """The latest write-up report (or `id`) as a PNG: accuracy bars and the table, its title saying quick."""
    return Response(_found(session, report_id).png, media_type="image/png")
