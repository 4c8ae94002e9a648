"""End the MLflow run of an experiment whose training process is gone (killed by the hard cap, or
lost too many times): nobody else would, and a run must never stay RUNNING. TF-free."""

from __future__ import annotations

from fer_models.tracking.run_logger import end_run
from worker.records import failed_run


def end_run_of_failed(experiment_id: str, tracking_uri: str | None) -> bool:
    """If the row is failed, end its MLflow run FAILED with the row's error."""
    failed = failed_run(experiment_id)
    if failed is None:
        return False
    return end_run(tracking_uri, failed.mlflow_run_id, "FAILED", failed.error)
