"""evaluate_model: test-time augmentation's views are part of the reported inference cost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from fer_models.evaluation.evaluate import evaluate_model
from fer_models.models.registry import get_model

CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")


def _counting_model() -> tuple[Any, Counter]:
    model = get_model("cnn-small", filters=4, blocks=2, dense_units=8)
    calls: Counter = Counter()
    plain = model.predict_on_batch

    def counted(batch: np.ndarray) -> Any:
        calls[len(batch)] += 1
        return plain(batch)

    model.predict_on_batch = counted
    return model, calls


@pytest.mark.parametrize(("tta", "views"), [("flip", 2), ("ten_crop", 10)])
def test_the_latency_of_one_prediction_includes_every_tta_view(tta: str, views: int) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(9, 48, 48), dtype=np.uint8)  # odd: a partial batch
    labels = rng.integers(0, 7, size=9)
    plain_model, plain_calls = _counting_model()
    evaluate_model(plain_model, images, labels, CLASSES, tta="none")
    tta_model, tta_calls = _counting_model()
    evaluation = evaluate_model(tta_model, images, labels, CLASSES, tta=tta)
    # Batch-of-one calls are the latency measurement: each of its runs predicts every view.
    assert tta_calls[1] == views * plain_calls[1] > 0
    assert "accuracy_no_tta" in evaluation.metrics and evaluation.metrics["inference_ms"] > 0
