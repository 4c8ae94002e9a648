"""Models in an MLflow registry without training them, for the serving tests and benchmarks.

Each is a zoo architecture with seeded random weights, logged the way the engine logs a trained one
(an MLflow run with its per-class report, the run's logged model) and registered as a version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fer_models.tracking.model_registry import ModelRegistry, VersionInfo


def build_model(model: str, seed: int) -> Any:
    import keras

    from fer_models.models.registry import get_model

    keras.utils.set_random_seed(seed)
    return get_model(model)


def log_model_run(tracking_uri: str, keras_model: Any, *, experiment_id: str, dataset: str = "synthetic") -> tuple[str, str]:
    """Log `keras_model` as a finished run's logged model (with the canonical classes); (run id, model id)."""
    from fer_models.data.labels import CLASS_NAMES
    from fer_models.tracking.keras_model import StagedModel, save_keras_flavour
    from fer_models.tracking.run_logger import RunLogger

    logger = RunLogger(tracking_uri)
    run_id = logger.open(dataset, run_id=None, run_name=f"serving-{experiment_id}",
                         tags={"model": keras_model.name, "experiment_id": experiment_id,
                               "dataset_fingerprint": f"fp-{dataset}"})
    logger.log_json({"class_names": list(CLASS_NAMES)}, "per_class_report.json")
    size = int(keras_model.input_shape[1])
    example = np.zeros((1, size, size, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="ferbench-registered-") as tmp:
        folder = save_keras_flavour(keras_model, Path(tmp) / "model", example)
        model_id = logger.log_staged_model(StagedModel(folder, example), name="classifier")
    logger.finish("FINISHED")
    return run_id, model_id


def register_model(tracking_uri: str, keras_model: Any, *, name: str, alias: str, experiment_id: str,
                   dataset: str = "synthetic") -> VersionInfo:
    """Log `keras_model` (log_model_run) and register it as a new version of `name` under `alias`."""
    run_id, model_id = log_model_run(tracking_uri, keras_model, experiment_id=experiment_id, dataset=dataset)
    return ModelRegistry(tracking_uri).register(
        name=name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id, alias=alias,
        tags={"experiment_id": experiment_id, "dataset": dataset})
