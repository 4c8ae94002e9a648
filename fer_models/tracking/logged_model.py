"""MLflow 3's view of a run: its model as a logged model, its data as the run's dataset input.

A folder of artifacts under the run is not what the MLflow 3 UI lists as a model: a *logged model*
is (the run's and the experiment's "Logged models" tabs, with metrics linked to it, and the source
that the model registry wants for a version). The dataset as a run input fills MLflow's dataset
column and filters; its digest is our source fingerprint, so equal digests mean equal data.
Everything goes through `MlflowClient` (no fluent, process-wide run state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_models.tracking.retry import with_retries

SOURCE_TYPE = "ferbench"
DATA_CONTEXT = "training"
# MLflow's UI opens an experiment in its model-training view only when this tag says so; an
# experiment without it may be guessed to be a GenAI one.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"


@dataclass(frozen=True)
class DatasetRef:
    """What MLflow records of the data one run trained and was tested on."""

    name: str
    digest: str
    split_fingerprint: str
    protocol: str
    split_sizes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, dataset: Any) -> DatasetRef:
        """From a `fer_models.data.dataset.Dataset`."""
        return cls(name=dataset.name, digest=dataset.source_fingerprint, split_fingerprint=dataset.split_fingerprint,
                   protocol=dataset.protocol, split_sizes=dataset.split_sizes())

    def source(self) -> str:
        return json.dumps({"dataset": self.name, "split_fingerprint": self.split_fingerprint,
                           "protocol": self.protocol}, sort_keys=True)

    def profile(self) -> str:
        sizes = dict(self.split_sizes)
        return json.dumps({"num_rows": sum(sizes.values()), "split_sizes": sizes}, sort_keys=True)


def log_dataset_input(client: Any, run_id: str, ref: DatasetRef) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(name=ref.name, digest=ref.digest, source_type=SOURCE_TYPE, source=ref.source(),
                      profile=ref.profile())
    entry = DatasetInput(dataset, tags=[InputTag("mlflow.data.context", DATA_CONTEXT)])
    with_retries(lambda: client.log_inputs(run_id, [entry]), what="dataset input")


def log_logged_model(client: Any, run_id: str, folder: Path, *, name: str, model_type: str,
                     tags: Mapping[str, str], step: int) -> str:
    """Create the logged model from a local MLflow model folder, mark it READY, list it as the run's output."""
    from mlflow.entities import LoggedModelOutput

    experiment_id = with_retries(lambda: client.get_run(run_id), what="run lookup").info.experiment_id
    created = with_retries(
        lambda: client.create_logged_model(experiment_id, name=name, source_run_id=run_id, model_type=model_type,
                                           tags={str(k): str(v) for k, v in tags.items()}),
        what="logged model creation")
    model_id = created.model_id
    with_retries(lambda: client.log_model_artifacts(model_id, str(folder)), what="logged model upload")
    with_retries(lambda: client.finalize_logged_model(model_id, "READY"), what="logged model finalisation")
    with_retries(lambda: client.log_outputs(run_id, [LoggedModelOutput(model_id, step)]), what="run output")
    return model_id


def run_model_id(client: Any, run_id: str) -> str | None:
    """The logged model a run produced (its latest output), or None for a run from before logged models."""
    outputs = with_retries(lambda: client.get_run(run_id), what="run lookup").outputs
    models = list(outputs.model_outputs) if outputs is not None else []
    return models[-1].model_id if models else None
