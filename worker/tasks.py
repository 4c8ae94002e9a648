"""Task `ferbench.run_experiment` on queue `gpu` (routing and acks in ferbench.queue)."""

from __future__ import annotations

from ferbench.queue import RUN_EXPERIMENT_TASK, enqueue_experiment
from ferbench.settings import get_settings
from worker.celery_app import app
from worker.execution import execute_experiment
from worker.process_loss import TrainingRequest


@app.task(name=RUN_EXPERIMENT_TASK, Request=TrainingRequest)
def run_experiment_task(experiment_id: str) -> str:
    """Returns the final status, "requeued" (graceful shutdown) or "skipped" (another delivery owns it)."""
    return execute_experiment(experiment_id, get_settings(), requeue=lambda eid: enqueue_experiment(app, eid))
