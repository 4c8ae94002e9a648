"""Run by test_zoo_training.py in ONE subprocess per Keras backend: every model fits a few odd batches.

Batch 33 over 70 images gives two full batches and a partial one of 4, at the FER input size of 48
where the model accepts it: the shapes that crashed mini-xception under TensorFlow's oneDNN.
Prints "start NAME" before each model (so a crash names it) and one JSON line after it:
{"name", "loss", "changed", "shape", "dtype", "row_sum_error"}.
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np

from fer_models.models.registry import get_model, get_model_info, list_models

BATCH, IMAGES = 33, 70


def input_size(name: str) -> int:
    info = get_model_info(name)
    return info.default_input_size if info.default_input_size <= 48 else info.min_input_size


def main(names: list[str]) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (IMAGES, 48, 48, 1)).astype("float32")
    labels = np.arange(IMAGES) % 7
    for name in names:
        print(f"start {name}", flush=True)
        model = get_model(name, input_size=input_size(name))
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        before = [np.array(w) for w in model.trainable_weights]
        history = model.fit(pixels, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        changed = any(not np.array_equal(b, np.array(a)) for b, a in zip(before, model.trainable_weights))
        probs = keras.ops.convert_to_numpy(model(pixels[:BATCH], training=False))  # eager: no third compilation
        print(json.dumps({
            "name": name, "loss": float(history.history["loss"][-1]), "changed": changed,
            "shape": list(probs.shape), "dtype": str(probs.dtype),
            "row_sum_error": float(np.max(np.abs(probs.sum(axis=1) - 1.0))),
        }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list_models())
