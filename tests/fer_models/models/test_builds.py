"""Every registered model, generated from the registry, under the TensorFlow backend (in-process).

Large ImageNet-size nets are exercised at their default size for building and inference only; the
training step and the `.keras` round trip run at each model's minimum input size (the small test
variant), so every model is built, stepped and reloaded without a slow path.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

from fer_models.models.registry import get_model, get_model_info, list_models, resolve_builder

NUM_CLASSES = 7


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype("float32")


def _assert_probabilities(probs: np.ndarray, rows: int) -> None:
    assert probs.shape == (rows, NUM_CLASSES)
    assert probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list_models())
def test_builders_take_the_registry_arguments_and_repeat_no_default(name: str) -> None:
    """A default written in a builder would be a second copy of the registry's, free to drift from it."""
    info = get_model_info(name)
    parameters = inspect.signature(resolve_builder(info)).parameters.values()
    assert all(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in parameters)
    sizes = {"input_size", "num_classes", "image_size", "weights"}
    assert {p.name for p in parameters} == sizes | set(info.builder_arguments(info.defaults))


@pytest.mark.parametrize("name", list_models())
def test_builds_at_default_size_and_outputs_probabilities(name: str, pixels: np.ndarray) -> None:
    info = get_model_info(name)
    model = get_model(name)
    assert model.input_shape == (None, 48, 48, 1)
    adapter = model.get_layer("input_adapter")
    assert adapter.input_size == info.default_input_size
    _assert_probabilities(np.asarray(model(pixels[:2], training=False)), 2)


@pytest.mark.parametrize("name", list_models())
def test_min_size_trains_one_step_and_reloads_identically(name: str, pixels: np.ndarray, tmp_path: Path) -> None:
    size = get_model_info(name).min_input_size
    model = get_model(name, input_size=size)
    assert model.get_layer("input_adapter").input_size == size
    labels = np.arange(len(pixels)) % NUM_CLASSES
    # Eager: tracing a graph for a single step of a big net costs more than the step itself.
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", run_eagerly=True)
    before = [np.array(w) for w in model.trainable_weights]
    assert before, f"{name} has nothing to train at epoch 0"
    loss = model.train_on_batch(pixels, labels)
    assert np.isfinite(loss)
    assert any(not np.array_equal(b, np.array(a)) for b, a in zip(before, model.trainable_weights))

    expected = np.asarray(model(pixels, training=False))
    _assert_probabilities(expected, len(pixels))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(pixels, training=False)), expected)


@pytest.mark.parametrize("name", ["cnn-attention", "cnn-lstm-attention", "mini-xception"])
def test_mixed_precision_still_returns_float32_probabilities(name: str, pixels: np.ndarray) -> None:
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = get_model(name, input_size=get_model_info(name).min_input_size)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    assert model.get_layer("input_adapter").compute_dtype == "float16"
    _assert_probabilities(np.asarray(model(pixels, training=False)), len(pixels))


def test_cnn_lstm_reads_feature_map_rows_as_time_steps() -> None:
    model = get_model("cnn-lstm", blocks=3, filters=8)
    feature_map = model.get_layer("block3_pool").output.shape
    sequence = model.get_layer("rows_as_sequence").output.shape
    assert sequence[1:] == (feature_map[1], feature_map[2] * feature_map[3])
    assert model.get_layer("lstm").input.shape == sequence


def test_channel_repeat_resize_and_preprocess_follow_keras_applications() -> None:
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    rgb = np.repeat(pixels, 3, axis=-1)
    for name, preprocess in (("vgg19", keras.applications.vgg19.preprocess_input),
                             ("resnet50", keras.applications.resnet50.preprocess_input),
                             ("mobilenetv2", keras.applications.mobilenet_v2.preprocess_input)):
        adapter = get_model(name, input_size=48).get_layer("input_adapter")
        np.testing.assert_allclose(np.asarray(adapter(pixels)), preprocess(rgb.copy()), rtol=1e-5, atol=1e-4)
    resized = get_model("mobilenet", input_size=64).get_layer("input_adapter")(pixels)
    assert tuple(resized.shape) == (2, 64, 64, 3)
