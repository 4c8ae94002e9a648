"""End the MLflow run of an experiment whose training process is gone (killed by the hard cap, or
lost too many times): nobody else would, and a run must never stay RUNNING. Tag a pruned trial's run,
which the engine ended as stopped (KILLED), so MLflow tells it from a cancelled one. TF-free."""

from __future__ import annotations

import logging

from fer_models.tracking.run_logger import RunLogger, end_run
from worker.records import failed_run


def end_run_of_failed(experiment_id: str, tracking_uri: str | None) -> bool:
    """If the row is failed, end its MLflow run FAILED with the row's error."""
    failed = failed_run(experiment_id)
    if failed is None:
        return False
    return end_run(tracking_uri, failed.mlflow_run_id, "FAILED", failed.error)


def tag_pruned(tracking_uri: str | None, run_id: str | None, epoch: int) -> bool:
    """Tag `ferbench.pruned` (the epoch after which the pruner stopped it); False when that failed (logged)."""
    if not tracking_uri or not run_id:
        return False
    try:
        logger = RunLogger(tracking_uri)
        logger.run_id = run_id
        logger.set_tags({"ferbench.pruned": "true", "ferbench.pruned_after_epoch": str(epoch)})
    except Exception:  # noqa: BLE001 - the row already says pruned; the tag is for MLflow's readers
        logging.getLogger(__name__).warning("could not tag MLflow run %s as pruned", run_id, exc_info=True)
        return False
    return True
