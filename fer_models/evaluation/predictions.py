"""Class probabilities kept with every result, so runs can be combined (ensembles) and compared
(paired tests) without retraining or reloading a model.

Stored as one compressed `.npz`: the same bytes go to MLflow (`predictions/predictions.npz`) and to the
service's database. Probabilities stay float32 (~200 kB for FER2013's 7,000 test faces) rather than
float16, so the stored predictions reproduce the logged metrics exactly: rounding can flip a near tie.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_models.errors import EvaluationInputError

ARTIFACT_DIR = "predictions"
ARTIFACT_FILE = "predictions.npz"
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
INTERVAL_METRICS = ("accuracy", "f1_macro")


@dataclass(frozen=True)
class Predictions:
    """Validation and test probabilities of one run, with the labels and the split they belong to."""

    split_fingerprint: str
    class_names: tuple[str, ...]
    val_labels: np.ndarray
    val_probs: np.ndarray
    test_labels: np.ndarray
    test_probs: np.ndarray

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, split_fingerprint=np.array(self.split_fingerprint), class_names=np.array(self.class_names),
            val_labels=self.val_labels.astype(np.int16), val_probs=self.val_probs.astype(np.float32),
            test_labels=self.test_labels.astype(np.int16), test_probs=self.test_probs.astype(np.float32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "predictions") -> Predictions:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return cls(str(npz["split_fingerprint"]), tuple(str(c) for c in npz["class_names"]),
                           npz["val_labels"].astype(np.int64), npz["val_probs"].astype(np.float32),
                           npz["test_labels"].astype(np.int64), npz["test_probs"].astype(np.float32))
        except (OSError, ValueError, KeyError) as exc:
            raise EvaluationInputError(f"{source} is not a predictions file written by FER Bench: {exc}") from None


def interval_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """`accuracy_ci_low`, `accuracy_ci_high`, `f1_macro_ci_low`, ...: 95% percentile-bootstrap intervals
    over the test images (1,000 resamples, seed 0, so the same predictions always give the same interval)."""
    from fer_models.evaluation.significance import bootstrap_ci

    if len(labels) == 0:
        return {}
    out: dict[str, float] = {}
    for metric in INTERVAL_METRICS:
        interval = bootstrap_ci(labels, probs, metric=metric, resamples=BOOTSTRAP_RESAMPLES,  # type: ignore[arg-type]
                                seed=BOOTSTRAP_SEED)
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = float(interval.low), float(interval.high)
    return out


def predictions_of(model: Any, dataset: Any, test_probs: np.ndarray, test_labels: np.ndarray, *, tta: str,
                   tta_crop: int | None) -> Predictions:
    """The run's predictions: the test ones already computed, the validation ones with the same TTA, so
    weights fitted on validation apply to test probabilities of the same kind."""
    from fer_models.evaluation.evaluate import probabilities

    x_val, y_val = dataset.subset("val")
    return Predictions(dataset.split_fingerprint, tuple(dataset.class_names), np.asarray(y_val),
                       probabilities(model, x_val, tta=tta, tta_crop=tta_crop), np.asarray(test_labels),
                       np.asarray(test_probs))
