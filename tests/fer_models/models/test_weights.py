"""Weights: ImageNet files from Keras' cache only (offline), with the exact file name Keras asks for."""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils

from fer_models.errors import ModelError
from fer_models.models.finetune import find_backbone
from fer_models.models.registry import get_model
from fer_models.models.weights import imagenet_file_name


class _Requested(Exception):
    pass


@pytest.mark.parametrize(
    ("arch", "build", "size", "alpha"),
    [
        ("vgg19", lambda s, a: keras.applications.VGG19(include_top=False, input_shape=(s, s, 3)), 32, 1.0),
        ("resnet50", lambda s, a: keras.applications.ResNet50(include_top=False, input_shape=(s, s, 3)), 32, 1.0),
        ("mobilenet", lambda s, a: keras.applications.MobileNet(include_top=False, input_shape=(s, s, 3), alpha=a), 160, 0.5),
        ("mobilenet", lambda s, a: keras.applications.MobileNet(include_top=False, input_shape=(s, s, 3), alpha=a), 32, 0.25),
        ("mobilenetv2", lambda s, a: keras.applications.MobileNetV2(include_top=False, input_shape=(s, s, 3), alpha=a), 96, 0.35),
        ("mobilenetv2", lambda s, a: keras.applications.MobileNetV2(include_top=False, input_shape=(s, s, 3), alpha=a), 48, 1.4),
    ],
)
def test_file_name_is_the_one_keras_applications_requests(arch, build, size, alpha, monkeypatch) -> None:
    requested: list[str] = []

    def fake_get_file(fname=None, origin=None, **_kwargs):
        requested.append((fname, origin))
        raise _Requested

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    with pytest.raises(_Requested):
        build(size, alpha)
    assert imagenet_file_name(arch, input_size=size, alpha=alpha) == requested[0]


def test_imagenet_not_cached_says_which_file_where_and_suggests_none(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(ModelError) as err:
        get_model("mobilenet", input_size=32, weights="imagenet", alpha=0.25)
    message = str(err.value)
    assert "mobilenet_2_5_224_tf_no_top.h5" in message
    assert str(tmp_path / "keras" / "models") in message
    assert "weights=none" in message
    assert not (tmp_path / "keras" / "models").exists() or not any((tmp_path / "keras" / "models").iterdir())


def test_imagenet_weights_load_from_the_cache_folder(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    reference = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.25)
    with h5py.File(cache / "mobilenet_2_5_224_tf_no_top.h5", "w") as f:  # Keras' own legacy weights layout
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    model = get_model("mobilenet", input_size=32, weights="imagenet", alpha=0.25)
    for expected, loaded in zip(reference.get_weights(), find_backbone(model).get_weights()):
        np.testing.assert_array_equal(loaded, expected)


def test_a_wrong_imagenet_file_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (cache / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ModelError, match="does not fit model 'mobilenet'.*weights=none"):
        get_model("mobilenet", input_size=32, weights="imagenet", alpha=0.25)


def test_weights_file_round_trip_and_mismatch(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    source = get_model("cnn-small", filters=8)
    path = tmp_path / "small.weights.h5"
    source.save_weights(path)
    loaded = get_model("cnn-small", filters=8, weights=str(path))
    np.testing.assert_array_equal(np.asarray(loaded(pixels)), np.asarray(source(pixels)))
    with pytest.raises(ModelError, match="does not fit model 'cnn-small'"):
        get_model("cnn-small", filters=16, weights=str(path))
