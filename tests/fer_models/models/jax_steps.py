"""Run by test_model_jax.py in ONE subprocess with KERAS_BACKEND=jax: every model, one training step.

Prints one JSON line per model: {"name", "loss", "changed", "shape", "row_sum_error"}.
"""

from __future__ import annotations

import json
import os
import sys

assert os.environ.get("KERAS_BACKEND") == "jax", "run with KERAS_BACKEND=jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fer_models.models.registry import get_model, get_model_info, list_models  # noqa: E402


def main(names: list[str]) -> None:
    assert keras.backend.backend() == "jax"
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype("float32")
    labels = np.arange(4) % 7
    for name in names:
        model = get_model(name, input_size=get_model_info(name).min_input_size)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        before = [np.array(w) for w in model.trainable_weights]
        loss = float(model.train_on_batch(pixels, labels))
        changed = any(not np.array_equal(b, np.array(a)) for b, a in zip(before, model.trainable_weights))
        probs = np.asarray(model(pixels, training=False))
        print(json.dumps({
            "name": name, "loss": loss, "changed": changed, "shape": list(probs.shape), "dtype": str(probs.dtype),
            "row_sum_error": float(np.max(np.abs(probs.sum(axis=1) - 1.0))),
        }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list_models())
