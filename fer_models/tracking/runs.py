"""Reading finished training runs back from MLflow: the searches and artifact downloads that
`ferbench evaluate` and `ferbench visualize` need, behind typed records.

A training run is one that carries a `model` tag (comparison-chart runs do not); its final test-set
metrics are logged with the `test_` prefix. Rankings of many runs read the SQL leaderboard, never this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_models.errors import FerBenchError
from fer_models.tracking.keras_model import MODEL_ARTIFACT_PATH
from fer_models.tracking.run_logger import EXPERIMENT_PREFIX, TEST_PREFIX, experiment_name_for, final_metric_names
from fer_models.tracking.uri import validate_tracking_uri

REPORT_ARTIFACT = "per_class_report.json"  # as the training engine logs it
_MAX_RUNS = 5000


class RunNotFound(FerBenchError):
    """No MLflow run has the id asked for."""


@dataclass(frozen=True)
class TrainedRun:
    """One training run as MLflow holds it: its tags, params and logged metrics."""

    run_id: str
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]

    @property
    def model(self) -> str | None:
        return self.tags.get("model")

    @property
    def dataset(self) -> str | None:
        return self.tags.get("dataset")

    @property
    def split_fingerprint(self) -> str | None:
        return self.tags.get("split_fingerprint")

    def test_metrics(self) -> dict[str, float]:
        """The final metrics under their DESIGN.md names (test-set ones without MLflow's `test_` prefix)."""
        return final_metric_names(self.metrics)


def _record(run: Any) -> TrainedRun:
    return TrainedRun(run_id=run.info.run_id, tags=dict(run.data.tags), params=dict(run.data.params),
                      metrics=dict(run.data.metrics))


class TrainingRuns:
    """The training runs of one tracking server or store."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.tracking_uri = validate_tracking_uri(tracking_uri)
        self._client = MlflowClient(tracking_uri=self.tracking_uri)

    def finished(self, *, dataset: str | None = None, model: str | None = None) -> list[TrainedRun]:
        """FINISHED training runs that logged a test accuracy, best first; only `dataset`'s or `model`'s if given."""
        client = self._client
        if dataset:
            found = client.get_experiment_by_name(experiment_name_for(dataset))
            experiments = [found] if found else []
        else:
            experiments = [e for e in client.search_experiments() if e.name.startswith(EXPERIMENT_PREFIX)]
        if not experiments:
            return []
        query = "attributes.status = 'FINISHED'"
        if model:
            query += f" and tags.model = '{model}'"
        runs = client.search_runs([e.experiment_id for e in experiments], filter_string=query,
                                  order_by=[f"metrics.{TEST_PREFIX}accuracy DESC"], max_results=_MAX_RUNS)
        return [_record(r) for r in runs if "model" in r.data.tags and f"{TEST_PREFIX}accuracy" in r.data.metrics]

    def get(self, run_id: str) -> TrainedRun:
        from mlflow.exceptions import MlflowException

        try:
            return _record(self._client.get_run(run_id))
        except MlflowException:
            raise RunNotFound(f"no MLflow run {run_id!r} at {self.tracking_uri}") from None

    def download_model(self, run_id: str) -> Path:
        """The run's logged model, downloaded to a local folder (load it with `keras_model.load_keras_model`)."""
        return self._download(run_id, MODEL_ARTIFACT_PATH)

    def report(self, run_id: str) -> dict[str, Any]:
        """The run's per-class report (class_names, per_class, confusion_matrix); raises when it has none."""
        return json.loads(self._download(run_id, REPORT_ARTIFACT).read_text())

    def _download(self, run_id: str, artifact_path: str) -> Path:
        import mlflow

        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path,
                                                        tracking_uri=self.tracking_uri))
