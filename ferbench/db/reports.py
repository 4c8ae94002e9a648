"""Reports in SQL: the members a report is made from, and the reports themselves (save, latest, by id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ferbench.db.models import METRICS, Experiment, Report, Result
from ferbench.reports.writeup_table import Member


class ReportNotFound(LookupError):
    pass


def load_members(session: Session, experiment_ids: Sequence[str]) -> tuple[list[Member], list[str]]:
    """The experiments (with their results) as report members, and the ids that do not exist."""
    stmt = (select(Experiment, Result).outerjoin(Result, Result.experiment_id == Experiment.id)
            .where(Experiment.id.in_(list(experiment_ids))))
    members = []
    for row, result in session.execute(stmt):
        metrics = {m: getattr(result, m) for m in METRICS} if result is not None else None
        members.append(Member(row.id, str(row.spec.get("recipe") or ""), row.status, row.seed, row.spec, row.dataset,
                              metrics, result.protocol if result is not None else None, row.error,
                              row.stopped_reason))
    found = {m.experiment_id for m in members}
    return members, [i for i in experiment_ids if i not in found]


def save_report(session: Session, *, kind: str, dataset: str, scale: str, body: dict[str, Any], markdown: str,
                png: bytes, experiment_ids: Sequence[str], mlflow_run_id: str | None,
                mlflow_error: str | None) -> Report:
    report = Report(id=str(uuid.uuid4()), kind=kind, dataset=dataset, scale=scale, body=body, markdown=markdown,
                    png=png, experiment_ids=list(experiment_ids), mlflow_run_id=mlflow_run_id,
                    mlflow_error=mlflow_error)
    session.add(report)
    session.commit()
    return report


def find_report(session: Session, kind: str, report_id: str | None = None) -> Report:
    """The report `report_id` of `kind`, or the latest of that kind."""
    stmt = select(Report).where(Report.kind == kind)
    stmt = stmt.where(Report.id == report_id) if report_id else stmt.order_by(Report.created_at.desc()).limit(1)
    found = session.scalars(stmt).first()
    if found is None:
        what = f"report {report_id!r} of kind {kind!r}" if report_id else f"no {kind} report has been made yet"
        raise ReportNotFound(what if report_id else f"{what}: run `ferbench reproduce {kind}` (add --quick "
                                                     "for the hour-long version)")
    return found
