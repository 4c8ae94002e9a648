"""Compute cost of a trained model: batch-1 latency, large-batch throughput, size and peak memory."""

from __future__ import annotations

from collections.abc import Callable

import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p95_ms: float


def inference_latency(predict: Callable[[np.ndarray], Any], sample: np.ndarray, *, runs: int = 30,
                      warmup: int = 3) -> Latency:
    """Per-image latency at batch 1 (median and p95, ms) of `predict` (a model's predict_on_batch, or
    its test-time augmentation, whose every view is part of the cost)."""
    one = np.asarray(sample[:1], dtype=np.float32)
    for _ in range(warmup):  # first calls trace/compile the graph
        predict(one)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        predict(one)
        times[i] = time.perf_counter() - start
    return Latency(median_ms=float(np.median(times) * 1e3), p95_ms=float(np.percentile(times, 95) * 1e3))


def throughput(model: Any, images: np.ndarray, *, batch_size: int = 256, min_images: int = 512) -> float:
    """Images per second at a large batch, after one warm-up batch."""
    batch = np.asarray(images[:batch_size], dtype=np.float32)
    if len(batch) < batch_size:  # tile small test sets so the batch is really large
        reps = -(-batch_size // max(len(batch), 1))
        batch = np.concatenate([batch] * reps)[:batch_size]
    model.predict_on_batch(batch)
    done, start = 0, time.perf_counter()
    while done < min_images:
        model.predict_on_batch(batch)
        done += len(batch)
    return float(done / (time.perf_counter() - start))


def peak_host_memory_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak / 2**20 if sys.platform == "darwin" else peak / 2**10)


def peak_device_memory_mb() -> float | None:
    """Peak GPU memory under TensorFlow (MB), or None on CPU / other backends."""
    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            return None
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            return None
        return float(tf.config.experimental.get_memory_info(gpus[0].name)["peak"] / 2**20)
    except Exception:  # memory stats are best effort: never fail an evaluation over them
        return None
