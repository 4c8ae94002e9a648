"""What one delivery of `ferbench.run_experiment` does: claim, train through fer_models, record the outcome.

Free of Celery so it can be called (and tested) on its own; worker/tasks.py registers it as the task.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fer_models.errors import FerBenchError
from fer_models.training.spec import parse_spec  # TF-free: loaded before the pool forks
from ferbench.settings import Settings
from worker import records

log = logging.getLogger(__name__)


def execute_experiment(experiment_id: str, settings: Settings) -> str:
    claimed = records.claim(experiment_id)
    if claimed is None:
        # A duplicate delivery, a lost race, or an experiment cancelled while queued: nothing to do.
        log.info("experiment %s not claimable (already running, finished or cancelled); skipping", experiment_id)
        return "skipped"
    log.info("claimed experiment %s (attempt %s)", experiment_id, claimed.attempts)
    try:
        # Validated again here: a spec that no longer validates (a model removed since it was
        # submitted) fails the experiment with the reason instead of leaving it running.
        spec = parse_spec(claimed.spec)
        # Imported here, in the pool's child process: TensorFlow must never load in the parent.
        from fer_models.training.engine import RunHooks, run_experiment

        from worker.hooks import build_hooks

        result = run_experiment(
            spec,
            work_dir=Path(settings.runs_dir).resolve() / experiment_id,  # checkpoints: a redelivery resumes
            data_dir=Path(settings.data_dir),
            cache_dir=Path(settings.cache_dir),
            tracking_uri=settings.mlflow_tracking_uri,
            mlflow_run_id=claimed.mlflow_run_id,
            tags={"experiment_id": experiment_id},
            hooks=build_hooks(experiment_id, RunHooks),
        )
    except FerBenchError as exc:
        log.warning("experiment %s failed: %s", experiment_id, exc)
        records.fail(experiment_id, str(exc))
        return "failed"
    except Exception as exc:  # noqa: BLE001 - any crash of the run ends the experiment, with its reason
        log.exception("experiment %s crashed", experiment_id)
        records.fail(experiment_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    if result.status == "cancelled":
        records.cancelled(experiment_id)
        return "cancelled"
    records.finish(experiment_id, result)
    return "succeeded"
