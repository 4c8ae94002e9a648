"""Log a Keras model in MLflow's Keras flavour with a signature and an input example.

MLflow 3.17's `mlflow.keras.save_model(..., input_example=...)` (and so `log_model`) writes
`input_example.json` before it creates the model folder and fails with FileNotFoundError
(mlflow issue #16183). The one workaround lives here: create the empty folder first, then save.
tests/fer_models/tracking/test_keras_model.py notices when MLflow fixes it.
The model is saved locally and uploaded with the client, so no fluent (global) run state is needed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fer_models.tracking.retry import with_retries

MODEL_ARTIFACT_PATH = "model"
INPUT_EXAMPLE_ARTIFACT = "input_example.npy"


def _requirements() -> list[str]:
    from importlib import metadata

    import keras

    pins = [f"keras=={metadata.version('keras')}"]
    backend = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}
    for dist in backend.get(keras.backend.backend(), ()):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
            break
        except metadata.PackageNotFoundError:
            continue
    return pins


def save_keras_flavour(model: Any, path: Path, input_example: np.ndarray) -> Path:
    """Write `model` as an MLflow Keras-flavour folder at `path` (signature inferred from the example)."""
    import mlflow.keras
    from mlflow.models import infer_signature

    example = np.asarray(input_example, dtype=np.float32)
    signature = infer_signature(example, np.asarray(model.predict_on_batch(example), dtype=np.float32))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=False)  # workaround for mlflow #16183: the folder must exist
    # Explicit requirements: MLflow's inference of them reloads the model in a subprocess (seconds).
    mlflow.keras.save_model(model, str(path), signature=signature, input_example=example,
                            pip_requirements=_requirements())
    return path


def log_keras_model(client: Any, run_id: str, model: Any, input_example: np.ndarray) -> str:
    """Upload the model folder under `model/` and the example as `input_example.npy`; return the model URI."""
    with tempfile.TemporaryDirectory(prefix="ferbench-model-") as tmp:
        folder = save_keras_flavour(model, Path(tmp) / MODEL_ARTIFACT_PATH, input_example)
        with_retries(lambda: client.log_artifacts(run_id, str(folder), MODEL_ARTIFACT_PATH), what="model upload")
        example_path = Path(tmp) / INPUT_EXAMPLE_ARTIFACT
        np.save(example_path, np.asarray(input_example, dtype=np.float32))
        with_retries(lambda: client.log_artifact(run_id, str(example_path)), what="input example upload")
    return f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}"
