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


REPO = Path(__file__).resolve().parents[3]
# A process that never built a zoo model: only what MLflow (or fer_models' loader) imports itself.
FRESH_LOAD = """
import sys
import numpy as np
import {module}
model = {load}(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.asarray(model.predict(x), dtype=np.float32))
"""
LOADERS = {"pyfunc": ("mlflow.pyfunc", "mlflow.pyfunc.load_model"),
           "fer_models": ("fer_models.tracking.keras_model", "fer_models.tracking.keras_model.load_keras_model")}


def _model_with_every_custom_layer() -> keras.Model:
    from fer_models.models.input_adapter import InputAdapter
    from fer_models.models.layers import CBAM, AttentionPooling, SqueezeExcitation

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    x = InputAdapter(8, channels=3, mode="caffe")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = CBAM(reduction=2)(SqueezeExcitation(reduction=2)(x))
    x = AttentionPooling(units=4)(keras.layers.Reshape((8, 32))(x))
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))


def test_custom_objects_name_every_registered_zoo_class() -> None:
    import importlib

    from fer_models.models.registry import list_model_infos
    from fer_models.models.serialization import custom_objects

    for info in list_model_infos():
        importlib.import_module(f"fer_models.models.{info.builder.split(':')[0]}")
    registered = {k for k in keras.saving.get_custom_objects() if k.startswith("fer_models>")}
    assert registered and set(custom_objects()) == registered


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_model_with_custom_layers_reloads_in_a_fresh_process(tmp_path: Path, loader: str) -> None:
    import subprocess
    import sys

    model = _model_with_every_custom_layer()
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32) * 255
    folder = save_keras_flavour(model, tmp_path / "model", x[:1])
    np.save(tmp_path / "x.npy", x)
    module, load = LOADERS[loader]
    done = subprocess.run([sys.executable, "-c", FRESH_LOAD.format(module=module, load=load), str(folder),
                           str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
