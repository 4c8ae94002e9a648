"""The small models really learn: >= 80% test accuracy on synthetic faces within a minute of training.

The write-up's CNN-LSTM scored 26% because of shape mismatches; this is the check that ours does not.
Models train at their minimum input size (32) to stay on budget; the faces stay recognisable there.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

from fer_models.data.synthetic import generate_faces
from fer_models.models.registry import get_model, get_model_info

TIME_CAP_SECONDS = 60.0
MAX_EPOCHS = 10
GOOD_ENOUGH = 0.85


class _BestWithinAMinute(keras.callbacks.Callback):
    """Keeps the best-validation weights (as any early-stopping run does); stops at val_accuracy >= 0.85 (margin over the 80% asked of the test set)
    or once the minute is spent, then restores the best weights."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.best = -1.0
        self.best_weights: list | None = None
        self.epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs = epoch + 1
        accuracy = (logs or {}).get("val_accuracy", 0.0)
        if accuracy > self.best:
            self.best, self.best_weights = accuracy, self.model.get_weights()
        if accuracy >= GOOD_ENOUGH or time.monotonic() - self.started > TIME_CAP_SECONDS:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


@pytest.fixture(scope="module")
def faces() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        images, labels = generate_faces(n, seed=seed)
        return images[..., None].astype("float32"), labels

    return {"train": split(1400, 11), "val": split(350, 12), "test": split(700, 13)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn-small", "cnn-lstm", "cnn-attention", "mini-xception"])
def test_small_model_learns_synthetic_faces(name: str, faces: dict) -> None:
    keras.utils.set_random_seed(0)
    model = get_model(name, input_size=get_model_info(name).min_input_size)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = faces["train"]
    tracker = _BestWithinAMinute()
    model.fit(x, y, batch_size=32, epochs=MAX_EPOCHS, validation_data=faces["val"], verbose=0, callbacks=[tracker])
    x_test, y_test = faces["test"]
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    assert accuracy >= 0.8, (
        f"{name} reached only {accuracy:.1%} on held-out synthetic faces after {tracker.epochs} epochs "
        f"({time.monotonic() - tracker.started:.0f} s; best val_accuracy {tracker.best:.1%})"
    )
