"""The MLflow Keras-flavour logging, and the canary for mlflow issue #16183."""

from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from fer_models.tracking.keras_model import INPUT_EXAMPLE_ARTIFACT, log_keras_model, save_keras_flavour


def _tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])


def test_mlflow_16183_still_breaks_save_model_with_an_input_example(tmp_path: Path) -> None:
    """When this fails, MLflow fixed #16183: drop the folder pre-creation in fer_models/tracking/keras_model.py."""
    example = np.zeros((1, 6, 6, 1), dtype=np.float32)
    with pytest.raises(FileNotFoundError, match="input_example.json"):
        mlflow.keras.save_model(_tiny_model(), str(tmp_path / "m"), input_example=example)


def test_saved_flavour_has_signature_and_example_and_predicts_the_same(tmp_path: Path) -> None:
    model = _tiny_model()
    x = np.random.default_rng(0).random((3, 6, 6, 1)).astype(np.float32) * 255
    folder = save_keras_flavour(model, tmp_path / "model", x[:2])
    info = mlflow.models.Model.load(str(folder))
    assert info.signature is not None and info.saved_input_example_info is not None
    loaded = mlflow.pyfunc.load_model(str(folder))
    np.testing.assert_allclose(loaded.predict(x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_logged_model_reloads_from_a_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run_id = client.create_run(exp).info.run_id
    model = _tiny_model()
    x = np.ones((2, 6, 6, 1), dtype=np.float32)
    model_uri = log_keras_model(client, run_id, model, x)
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"model", INPUT_EXAMPLE_ARTIFACT} <= names
    mlflow.set_tracking_uri(uri)
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
    finally:
        mlflow.set_tracking_uri(None)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
