"""Registered model versions loaded once and kept warm, and the references (alias, version, experiment
id) that point at them, re-checked in the background so that a moved alias is picked up.

A request never waits for a reload: the new version is loaded beside the old one, and only then does
the reference switch to it, so every request in between is answered by the old version.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_models.tracking.model_registry import ModelRegistry, VersionInfo, download_version

log = logging.getLogger(__name__)
# Measured on the project's 2-core machine (bench_serving, mini-Xception, batch 256): XNNPACK with 4
# threads ran ~40% faster than with 2, its smaller work units balancing better across busy cores.
_THREADS = min(4, 2 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    experiment_id: str | None
    class_names: tuple[str, ...]
    input_size: int
    predict: Callable[[np.ndarray], np.ndarray]  # uint8 (N, S, S) -> float32 (N, classes)


def _tflite_predict(model: object, size: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """The model as a float32 TensorFlow Lite graph on XNNPACK, or None when it does not convert.

    The same float weights and arithmetic (the serving tests compare against Keras to 1e-5), but small
    convolutional nets run 2-3x faster than through the TensorFlow runtime's per-op dispatch. One
    interpreter per batch size (sizing one costs milliseconds), one invocation at a time per interpreter.
    """
    import warnings

    import tensorflow as tf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the model's signature
                flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
            probe = tf.lite.Interpreter(model_content=flat)
    except Exception:  # noqa: BLE001 - an op TFLite lacks: the TensorFlow path serves instead
        log.info("model does not convert to TensorFlow Lite; serving it through TensorFlow", exc_info=True)
        return None
    del probe
    interpreters: dict[int, tuple[Any, int, int]] = {}
    lock = threading.Lock()

    def interpreter(batch: int) -> tuple[Any, int, int]:
        if batch not in interpreters:
            if len(interpreters) >= 8:
                interpreters.pop(next(iter(interpreters)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                it = tf.lite.Interpreter(model_content=flat, num_threads=_THREADS)
            index = it.get_input_details()[0]["index"]
            it.resize_tensor_input(index, [batch, size, size, 1])
            it.allocate_tensors()
            interpreters[batch] = (it, index, it.get_output_details()[0]["index"])
        return interpreters[batch]

    def run(images: np.ndarray) -> np.ndarray:
        with lock:
            it, index, out = interpreter(len(images))
            it.set_tensor(index, images.astype(np.float32)[..., np.newaxis])
            it.invoke()
            return it.get_tensor(out).copy()

    return run


def _predict_function(model: object) -> Callable[[np.ndarray], np.ndarray]:
    """One call per batch: TensorFlow Lite when the model converts, else a tf.function with a batch-free
    signature (traced once, no per-call Keras bookkeeping); Keras' predict_on_batch on other backends."""
    import keras

    size = int(model.input_shape[1])  # type: ignore[attr-defined]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        lite = _tflite_predict(model, size)
        if lite is not None:
            return lite

        @tf.function(input_signature=[tf.TensorSpec([None, size, size], tf.uint8)])
        def run(images: tf.Tensor) -> tf.Tensor:
            x = tf.expand_dims(tf.cast(images, tf.float32), -1)
            return model(x, training=False)  # type: ignore[operator]

        return lambda images: run(images).numpy()

    def run_keras(images: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(images.astype(np.float32)[..., np.newaxis]))  # type: ignore[attr-defined]

    return run_keras


def load_version(registry: ModelRegistry, version: VersionInfo) -> LoadedModel:
    """Download a registered version's model and make it ready to predict (one warm-up call)."""
    from fer_models.data.labels import CLASS_NAMES
    from fer_models.tracking.keras_model import load_keras_model
    from fer_models.tracking.runs import TrainingRuns

    folder = download_version(registry, version)
    model = load_keras_model(folder)
    class_names: tuple[str, ...] = CLASS_NAMES
    if version.run_id:
        try:
            class_names = tuple(TrainingRuns(registry.tracking_uri).report(version.run_id)["class_names"])
        except Exception:  # noqa: BLE001 - a run without its report: the canonical classes, as trained
            log.warning("run %s has no per-class report; assuming the seven canonical classes", version.run_id)
    predict = _predict_function(model)
    size = int(model.input_shape[1])
    predict(np.zeros((1, size, size), dtype=np.uint8))  # trace and warm up before the first request
    return LoadedModel(name=version.name, version=version.version, experiment_id=version.experiment_id,
                       class_names=class_names, input_size=size, predict=predict)


@dataclass
class _Reference:
    version: str
    checked: float


class ModelCache:
    """Models by (registered name, version), references by (registered name, reference)."""

    def __init__(self, registry: ModelRegistry, refresh_s: float,
                 loader: Callable[[ModelRegistry, VersionInfo], LoadedModel] = load_version) -> None:
        self.registry, self.refresh_s, self._loader = registry, refresh_s, loader
        self._models: dict[tuple[str, str], LoadedModel] = {}
        self._refs: dict[tuple[str, str], _Reference] = {}
        self._lock = threading.Lock()  # guards the two dicts
        self._load_lock = threading.Lock()  # one load at a time: TensorFlow graphs are built one by one anyway
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, name: str, ref: str) -> LoadedModel:
        """The model `ref` points at now; the first request for a reference resolves and loads it."""
        with self._lock:
            known = self._refs.get((name, ref))
            if known is not None:
                return self._models[(name, known.version)]
        version = self.registry.resolve(name, ref)  # UnknownModelRef names what exists
        model = self._load(version)
        with self._lock:
            self._refs.setdefault((name, ref), _Reference(version.version, time.monotonic()))
            return self._models[(name, self._refs[(name, ref)].version)]

    def _load(self, version: VersionInfo) -> LoadedModel:
        key = (version.name, version.version)
        with self._load_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = self._loader(self.registry, version)
            with self._lock:
                self._models[key] = model
            log.info("loaded %s version %s", version.name, version.version)
            return model

    def refresh(self) -> None:
        """Re-resolve every reference; load what moved, then switch to it, then drop unused versions."""
        with self._lock:
            refs = list(self._refs.items())
        for (name, ref), known in refs:
            try:
                version = self.registry.resolve(name, ref)
                if version.version != known.version:
                    self._load(version)
                    log.info("%s@%s moved from version %s to %s", name, ref, known.version, version.version)
            except Exception:  # noqa: BLE001 - keep serving what is loaded; try again next round
                log.warning("could not re-check %s@%s", name, ref, exc_info=True)
                continue
            with self._lock:
                self._refs[(name, ref)] = _Reference(version.version, time.monotonic())
        with self._lock:
            used = {(name, r.version) for (name, _), r in self._refs.items()}
            for key in [k for k in self._models if k not in used]:
                del self._models[key]

    def start(self, preload: tuple[str, str] | None = None) -> None:
        """Re-check references every refresh_s; first load `preload` (name, reference) if it exists, so
        the first request does not wait for it."""

        def loop() -> None:
            if preload is not None:
                try:
                    self.get(*preload)
                except Exception:  # noqa: BLE001 - nothing registered yet is normal: requests will say so
                    log.info("nothing to preload as %s@%s yet", *preload)
            while not self._stop.wait(self.refresh_s):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="alias-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
