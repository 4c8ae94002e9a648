"""End the MLflow run of an experiment whose training process is gone (killed by the hard cap, or
lost too many times): nobody else would, and a run must never stay RUNNING. TF-free."""

from __future__ import annotations

from fer_models.tracking.run_logger import end_run


def end_run_of_failed(experiment_id: str, tracking_uri: str | None) -> bool:
    """If the row is failed, end its MLflow run FAILED with the row's error."""
    from worker.records import session_scope

    with session_scope() as session:
        from ferbench.db.experiments import get_experiment

        row = get_experiment(session, experiment_id)
        if row is None or row.status != "failed":
            return False
        run_id, error = row.mlflow_run_id, row.error or "failed"
    return end_run(tracking_uri, run_id, "FAILED", error)
