"""One MLflow run per experiment, in an MLflow experiment per dataset, through `MlflowClient`.

The client (not the fluent API) keeps no process-wide active run, so the worker and tests can run
several experiments in one process. Every call retries transient tracking errors with backoff.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer_models.tracking.retry import with_retries
from fer_models.tracking.uri import local_artifact_root, validate_tracking_uri

if TYPE_CHECKING:
    from fer_models.tracking.keras_model import StagedModel

EXPERIMENT_PREFIX = "ferbench-"
MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
log = logging.getLogger(__name__)
_BATCH = 100  # params and metrics per log_batch call (MLflow limits a batch to 100 params)


def experiment_name_for(dataset: str) -> str:
    return f"{EXPERIMENT_PREFIX}{dataset}"


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dicts to dotted keys with string values (None as 'none'), MLflow's param shape."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not value:
                flat[name] = "{}"
            flat.update(flatten(value, f"{name}."))
        else:
            text = "none" if value is None else (json.dumps(value) if isinstance(value, (list, tuple)) else str(value))
            flat[name] = text[:MAX_PARAM_LENGTH]
    return flat


def ensure_experiment(client: Any, name: str, tracking_uri: str) -> str:
    """The id of MLflow experiment `name`, created (artifacts beside a local store) when missing."""
    found = with_retries(lambda: client.get_experiment_by_name(name), what="experiment lookup")
    if found is not None:
        return found.experiment_id
    from mlflow.exceptions import MlflowException

    try:
        return with_retries(
            lambda: client.create_experiment(name, artifact_location=local_artifact_root(tracking_uri)),
            what="experiment creation",
        )
    except MlflowException:  # another process created it between our lookup and create
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


class RunLogger:
    """Opens (or reopens) a run and logs params, per-epoch metrics, final metrics and artifacts."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.tracking_uri = validate_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.run_id: str | None = None

    # -- run lifecycle ---------------------------------------------------------------------------

    def experiment_id(self, dataset: str) -> str:
        return ensure_experiment(self.client, experiment_name_for(dataset), self.tracking_uri)

    def open(self, dataset: str, *, run_id: str | None, run_name: str, tags: Mapping[str, str]) -> str:
        """Start a new run, or reopen `run_id` (a resumed or retried experiment) and mark it RUNNING."""
        if run_id:
            run = with_retries(lambda: self.client.get_run(run_id), what="run lookup")
            if run.info.status != "RUNNING":
                with_retries(lambda: self.client.update_run(run_id, status="RUNNING"), what="run reopen")
            self.run_id = run_id
            self.set_tags(tags)
            return run_id
        experiment_id = self.experiment_id(dataset)
        run = with_retries(
            lambda: self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags)), what="run creation"
        )
        self.run_id = run.info.run_id
        return self.run_id

    def finish(self, status: str, *, error: str | None = None) -> None:
        """End the run FINISHED, FAILED or KILLED; an error message is kept as tag `error`."""
        if self.run_id is None:
            return
        if error:
            self.set_tags({"error": error[:5000]})
        # MLflow prints "View run ... at: URL" to stdout for server URIs, which would corrupt `--json` output.
        with contextlib.redirect_stdout(io.StringIO()):
            with_retries(lambda: self.client.set_terminated(self.run_id, status=status), what="run termination")

    # -- logging ---------------------------------------------------------------------------------

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self._log_batches("tags", [RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params, skipping those a reopened run already has (MLflow params are write-once)."""
        from mlflow.entities import Param

        existing = with_retries(lambda: self.client.get_run(self.run_id), what="run lookup").data.params
        self._log_batches("params", [Param(k, v) for k, v in flatten(params).items() if k not in existing])

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Finite numeric metrics only (MLflow rejects NaN on some stores; a NaN metric means 'undefined')."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._log_batches("metrics", [Metric(k, float(v), now, step) for k, v in metrics.items()
                                      if isinstance(v, (int, float)) and math.isfinite(float(v))])

    def _log_batches(self, kind: str, items: list[Any]) -> None:
        """`log_batch(tags= | params= | metrics=)` in chunks of _BATCH, each retried on its own."""
        for i in range(0, len(items), _BATCH):
            chunk = items[i:i + _BATCH]
            with_retries(lambda: self.client.log_batch(self.run_id, **{kind: chunk}), what=kind)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        with_retries(lambda: self.client.log_artifact(self.run_id, str(path), artifact_path), what="artifact upload")

    def log_json(self, data: Any, name: str) -> None:
        self.log_bytes(json.dumps(data, indent=2, sort_keys=True).encode(), None, name)

    def log_bytes(self, data: bytes, artifact_path: str | None, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="ferbench-artifact-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.log_artifact(path, artifact_path)

    def log_staged_model(self, staged: StagedModel) -> str:
        """Upload a model already written by keras_model.save_keras_flavour; return its model URI."""
        from fer_models.tracking.keras_model import upload_staged_model

        return upload_staged_model(self.client, self.run_id, staged)


def end_run(tracking_uri: str | None, run_id: str | None, status: str, error: str) -> bool:
    """End a run whose own process can no longer do it (killed, lost); False when that failed too."""
    if not tracking_uri or not run_id:
        return False
    try:
        logger = RunLogger(tracking_uri)
        logger.run_id = run_id
        logger.finish(status, error=error)
    except Exception:  # noqa: BLE001 - the caller already carries the reason
        log.warning("could not end MLflow run %s as %s", run_id, status, exc_info=True)
        return False
    return True
