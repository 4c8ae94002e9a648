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

from fer_models.tracking.logged_model import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND
from fer_models.tracking.retry import with_retries
from fer_models.tracking.uri import local_artifact_root, validate_tracking_uri

if TYPE_CHECKING:
    from fer_models.tracking.keras_model import StagedModel
    from fer_models.tracking.logged_model import DatasetRef

EXPERIMENT_PREFIX = "ferbench-"
MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
log = logging.getLogger(__name__)
_BATCH = 100  # params and metrics per log_batch call (MLflow limits a batch to 100 params)


TEST_PREFIX = "test_"
# Figures of the training and of the model's size are not measured on the test set: not `test_`-prefixed.
TRAINING_FIGURES = frozenset({"train_seconds", "epoch_seconds", "epochs_completed", "params", "params_trainable",
                              "model_bytes", "flops_per_image"})
# `epoch_seconds` is also the per-epoch series: its final mean gets a key of its own.
_FINAL_KEYS = {"epoch_seconds": "mean_epoch_seconds"}


def final_metric_keys(metrics: Mapping[str, float]) -> dict[str, float]:
    """Final values under their MLflow keys: `test_<name>` for test-set metrics, training figures unprefixed."""
    return {(_FINAL_KEYS.get(k, k) if k in TRAINING_FIGURES else f"{TEST_PREFIX}{k}"): v for k, v in metrics.items()}


def final_metric_names(logged: Mapping[str, float]) -> dict[str, float]:
    """The inverse of final_metric_keys over a run's logged metrics: final values under their DESIGN.md names."""
    inverse = {_FINAL_KEYS.get(name, name): name for name in TRAINING_FIGURES}
    out = {k.removeprefix(TEST_PREFIX): v for k, v in logged.items() if k.startswith(TEST_PREFIX)}
    out.update({inverse[k]: v for k, v in logged.items() if k in inverse})
    return out


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
    """The id of MLflow experiment `name`, created (artifacts beside a local store) when missing, and tagged so
    that MLflow's UI opens it in its model-training view rather than its GenAI view."""
    found = with_retries(lambda: client.get_experiment_by_name(name), what="experiment lookup")
    if found is not None:
        if found.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING_KIND:  # made before the tag was set
            with_retries(lambda: client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG,
                                                           MODEL_TRAINING_KIND), what="experiment tag")
        return found.experiment_id
    from mlflow.exceptions import MlflowException

    try:
        return with_retries(
            lambda: client.create_experiment(name, artifact_location=local_artifact_root(tracking_uri),
                                             tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND}),
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

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0, model_id: str | None = None,
                    dataset: DatasetRef | None = None) -> None:
        """Finite numeric metrics only (MLflow rejects NaN on some stores; a NaN metric means 'undefined').

        `model_id` links them to a logged model, `dataset` to the data they were measured on.
        """
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        name, digest = (dataset.name, dataset.digest) if dataset is not None else (None, None)
        self._log_batches("metrics", [Metric(k, float(v), now, step, model_id=model_id, dataset_name=name,
                                             dataset_digest=digest)
                                      for k, v in metrics.items()
                                      if isinstance(v, (int, float)) and math.isfinite(float(v))])

    def log_dataset(self, dataset: DatasetRef) -> None:
        from fer_models.tracking.logged_model import log_dataset_input

        log_dataset_input(self.client, self.run_id, dataset)

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

    def log_staged_model(self, staged: StagedModel, *, name: str, tags: Mapping[str, str] | None = None,
                         step: int = 0) -> str:
        """Upload a model already written by keras_model.save_keras_flavour, under the run's `model/` and as
        the run's MLflow logged model `name`; return the logged model's id (link final metrics to it).

        `name` must not be `model`: MLflow 3 resolves `runs:/<run>/<name>/...` paths to a logged model of
        that name, which would hide the run's own `model/` folder from artifact listings.
        """
        from fer_models.tracking.keras_model import MODEL_ARTIFACT_PATH, upload_staged_model
        from fer_models.tracking.logged_model import log_logged_model

        if name == MODEL_ARTIFACT_PATH:
            raise ValueError(f"a logged model may not be named {MODEL_ARTIFACT_PATH!r}")
        upload_staged_model(self.client, self.run_id, staged)
        return log_logged_model(self.client, self.run_id, staged.folder, name=name, model_type="keras",
                                tags=tags or {}, step=step)


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
