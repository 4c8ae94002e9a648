"""Evaluate a trained model on a test split: every metric, optional TTA, and its compute cost."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_models.evaluation.metrics import ClassificationReport, classification_report
from fer_models.evaluation.timing import (
    inference_latency,
    peak_device_memory_mb,
    peak_host_memory_mb,
    throughput,
)

PREDICT_BATCH = 256


@dataclass
class Evaluation:
    report: ClassificationReport
    probs: np.ndarray
    labels: np.ndarray
    cost: dict[str, float] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return {**self.report.metrics, **self.cost}


def predict_probs(model: Any, x: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """Softmax outputs in chunks through the compiled predict step (cheaper than `model.predict`'s
    dataset machinery for in-memory arrays)."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    chunks = [np.asarray(model.predict_on_batch(x[i:i + batch_size]), dtype=np.float32)
              for i in range(0, len(x), batch_size)]
    return np.concatenate(chunks)


def probabilities(model: Any, images: np.ndarray, *, tta: str = "none", tta_crop: int | None = None) -> np.ndarray:
    """Softmax outputs for uint8 images (N, H, W), averaged over the TTA views when `tta` asks for them."""
    from fer_models.data.pipeline import to_model_input

    from fer_models.data.tta import predict_with_tta

    x = to_model_input(images)
    if len(x) == 0:
        return predict_probs(model, x)
    return np.asarray(predict_with_tta(lambda batch: predict_probs(model, batch), x, tta, crop_size=tta_crop),
                      dtype=np.float32)


def _views_per_image(x: np.ndarray, tta: str) -> int:
    from fer_models.data.tta import tta_views

    return len(tta_views(x[:1], tta))


def evaluate_model(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    tta: str = "none",
    tta_crop: int | None = None,
) -> Evaluation:
    """Metrics on uint8 images (N, H, W); with tta != none the TTA metrics are the headline ones (`tta_crop`:
    ten-crop's crop size in pixels) and
    the plain accuracy is kept as `accuracy_no_tta`. Cost: inference_ms(_p95), throughput, params,
    peak memory."""
    from fer_models.data.pipeline import to_model_input

    x = to_model_input(images)
    predict_probs(model, x[:PREDICT_BATCH])  # trace the predict graph outside the timed pass
    start = time.perf_counter()
    probs = predict_probs(model, x)
    predict_seconds = time.perf_counter() - start  # the predictions alone, not the metrics
    report = classification_report(labels, probs, class_names)
    extra: dict[str, float] = {}
    predict_one = model.predict_on_batch
    if tta != "none":
        from fer_models.data.tta import predict_with_tta

        extra["accuracy_no_tta"] = report.metrics["accuracy"]
        start = time.perf_counter()
        probs = np.asarray(predict_with_tta(lambda batch: predict_probs(model, batch), x, tta, plain_probs=probs,
                                            crop_size=tta_crop), dtype=np.float32)
        predict_seconds += time.perf_counter() - start
        report = classification_report(labels, probs, class_names)

        def predict_one(batch: np.ndarray) -> np.ndarray:  # every view is part of one prediction's cost
            return predict_with_tta(model.predict_on_batch, batch, tta, crop_size=tta_crop)
    cost: dict[str, float] = dict(extra)
    if len(x):
        latency = inference_latency(predict_one, x)
        cost["inference_ms"] = latency.median_ms
        cost["inference_ms_p95"] = latency.p95_ms
        # The full test-set pass at batch PREDICT_BATCH (with its TTA views) is the large-batch measurement;
        # tiny test sets get a dedicated one so the figure is not dominated by a single partial batch.
        cost["throughput"] = (len(x) / predict_seconds if len(x) >= 4 * PREDICT_BATCH
                              else throughput(model, x) / _views_per_image(x, tta))
        cost["params"] = float(model.count_params())
        cost["peak_memory_mb"] = peak_host_memory_mb()
        device_peak = peak_device_memory_mb()
        if device_peak is not None:
            cost["peak_gpu_memory_mb"] = device_peak
    return Evaluation(report=report, probs=probs, labels=np.asarray(labels), cost=cost)
