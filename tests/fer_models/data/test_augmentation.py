import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fer_models.data.augmentation import AUGMENTATION_PRESETS, AugmentationConfig, build_augmentation
from fer_models.data.synthetic import generate_faces

_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from fer_models.data.augmentation import AUGMENTATION_PRESETS, build_augmentation
    from fer_models.data.synthetic import generate_faces
    import keras
    x = generate_faces(16, seed=1)[0].astype("float32")[..., None]
    out = {"backend": keras.backend.backend()}
    for name in AUGMENTATION_PRESETS:
        layer = build_augmentation(name, seed=3)
        train = np.asarray(layer(x, training=True))
        infer = np.asarray(layer(x, training=False))
        out[name] = [list(train.shape), float(np.abs(train - x).mean()), bool(np.array_equal(infer, x)),
                     float(train.min()), float(train.max())]
    # Inside a model that trains: the graph path (jit under JAX, tf.function under TF).
    inputs = keras.Input((48, 48, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(
        keras.layers.Flatten()(build_augmentation("strong", seed=1)(inputs))))
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x / 255.0, np.arange(16) % 7, epochs=1, batch_size=8, verbose=0)
    out["fit_loss_finite"] = bool(np.isfinite(history.history["loss"][0]))
    print(json.dumps(out))
""")


def _check(result):
    for name in AUGMENTATION_PRESETS:
        shape, change, identity_at_inference, low, high = result[name]
        assert shape == [16, 48, 48, 1] and identity_at_inference
        assert (change == 0.0) == (name == "none")
        assert -1.0 <= low and high <= 256.0
    assert result["fit_loss_finite"]


def test_presets_under_tensorflow_in_process():
    env_backend = os.environ.get("KERAS_BACKEND")
    assert env_backend == "tensorflow"
    namespace: dict = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(_PROBE, "probe", "exec"), namespace)
    result = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert result["backend"] == "tensorflow"
    _check(result)


def test_presets_under_jax_in_a_subprocess():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    _check(result)


def test_strong_preset_flips_crops_and_erases():
    x = generate_faces(64, seed=2)[0].astype("float32")[..., None]
    erase_only = np.asarray(build_augmentation(AugmentationConfig(erasing=1.0), seed=0)(x, training=True))
    changed = np.abs(erase_only - x).reshape(64, -1) > 0
    area = changed.mean(axis=1)
    assert np.all(area > 0.005) and np.all(area < 0.25)  # one rectangle of 2-20% per image
    flip_only = np.asarray(build_augmentation(AugmentationConfig(flip=True), seed=0)(x, training=True))
    flipped = [np.array_equal(flip_only[i], x[i, :, ::-1]) for i in range(64)]
    kept = [np.array_equal(flip_only[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54
    crop_only = np.asarray(build_augmentation(AugmentationConfig(crop_padding=4), seed=0)(x, training=True))
    assert crop_only.shape == x.shape and not np.array_equal(crop_only, x)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="accepted: none, light, standard, strong"):
        build_augmentation("wild")
    with pytest.raises(ValueError, match="erasing must be a probability"):
        AugmentationConfig(erasing=2.0)
    with pytest.raises(ValueError, match="fields"):
        build_augmentation({"blur": 1})
