"""Log a Keras model in MLflow's Keras flavour with a signature and an input example.

MLflow 3.17's `mlflow.keras.save_model(..., input_example=...)` (and so `log_model`) writes
`input_example.json` before it creates the model folder and fails with FileNotFoundError
(mlflow issue #16183). The one workaround lives here: create the empty folder first, then save.
tests/fer_models/tracking/test_keras_model.py notices when MLflow fixes it.
The model is saved locally and uploaded with the client, so no fluent (global) run state is needed.

MLflow's own pyfunc loader for Keras (`mlflow.keras`) knows none of the zoo's custom layers, so a
process that never built a model could not load one: the saved model names this module as its
pyfunc loader instead, and `load_keras_model` is the native-flavour counterpart.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_models.tracking.retry import with_retries

MODEL_ARTIFACT_PATH = "model"
INPUT_EXAMPLE_ARTIFACT = "input_example.npy"
KERAS_FILE = Path("data") / "model.keras"  # where the flavour keeps the native file (`model.save`)


@dataclass(frozen=True)
class StagedModel:
    """A model written as an MLflow Keras-flavour folder on local disk, ready to upload."""

    folder: Path
    input_example: np.ndarray

    @property
    def keras_file(self) -> Path:
        """The native `.keras` file inside: what `model.save` writes, so its size is the model's size."""
        return self.folder / KERAS_FILE


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
    _load_pyfunc_through_this_module(path)
    return path


def _load_pyfunc_through_this_module(path: Path) -> None:
    from mlflow.models import Model
    from mlflow.pyfunc import FLAVOR_NAME, MAIN

    info = Model.load(str(path))
    info.flavors[FLAVOR_NAME][MAIN] = __name__
    info.save(str(path / "MLmodel"))


def _load_pyfunc(path: str) -> Any:
    """Called by `mlflow.pyfunc.load_model`: MLflow's Keras pyfunc loader, once the custom layers are registered."""
    from mlflow.keras.load import _load_pyfunc as load_keras_pyfunc

    import fer_models.models.serialization  # noqa: F401 - importing registers every custom layer

    return load_keras_pyfunc(path)


def load_keras_model(model_uri: str) -> Any:
    """The logged model as a keras.Model (any MLflow model URI or local folder), custom layers included."""
    import mlflow.keras

    from fer_models.models.serialization import custom_objects

    return mlflow.keras.load_model(model_uri, custom_objects=custom_objects())


def upload_staged_model(client: Any, run_id: str, staged: StagedModel) -> str:
    """Upload the folder under `model/` and the example as `input_example.npy`; return the model URI."""
    with_retries(lambda: client.log_artifacts(run_id, str(staged.folder), MODEL_ARTIFACT_PATH), what="model upload")
    with tempfile.TemporaryDirectory(prefix="ferbench-example-") as tmp:
        example_path = Path(tmp) / INPUT_EXAMPLE_ARTIFACT
        np.save(example_path, np.asarray(staged.input_example, dtype=np.float32))
        with_retries(lambda: client.log_artifact(run_id, str(example_path)), what="input example upload")
    return f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}"


def log_keras_model(client: Any, run_id: str, model: Any, input_example: np.ndarray) -> str:
    """Save the model as a flavour folder and upload it (`upload_staged_model`); return the model URI."""
    with tempfile.TemporaryDirectory(prefix="ferbench-model-") as tmp:
        folder = save_keras_flavour(model, Path(tmp) / MODEL_ARTIFACT_PATH, input_example)
        return upload_staged_model(client, run_id, StagedModel(folder, input_example))
