"""Test-set classification metrics under the names DESIGN.md fixes (SQL, API and MLflow share them).

Everything derives from one confusion matrix plus the probabilities (for ROC-AUC and top-2), so
7,000 images cost milliseconds. Macro averages run over the classes that occur in the labels or
the predictions (scikit-learn's default); a class absent from the test split gets no ROC-AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from fer_models.vocabulary import CLASSIFICATION_METRICS

METRIC_NAMES = CLASSIFICATION_METRICS  # the keys of ClassificationReport.metrics


@dataclass(frozen=True)
class ClassificationReport:
    """Summary metrics, the per-class table and the raw confusion matrix (rows: true, cols: predicted)."""

    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts matrix via one bincount (no per-sample Python loop)."""
    flat = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def roc_auc_macro(y_true: np.ndarray, probs: np.ndarray) -> float:
    """One-vs-rest ROC-AUC averaged over the classes that have both positives and negatives."""
    scores = []
    for k in range(probs.shape[1]):
        positives = y_true == k
        if positives.any() and not positives.all():
            scores.append(roc_auc_score(positives, probs[:, k]))
    return float(np.mean(scores)) if scores else float("nan")


def classification_report(
    y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str] | None = None
) -> ClassificationReport:
    """Every metric of one evaluation from labels (N,) and softmax probabilities (N, C)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != y_true.shape[0]:
        raise ValueError(f"probs must be (N, C) with N={y_true.shape[0]}, got {probs.shape}")
    n_classes = probs.shape[1]
    names = list(class_names) if class_names is not None else [str(k) for k in range(n_classes)]
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    seen = (support > 0) | (predicted > 0)
    present = support > 0
    total = max(int(support.sum()), 1)
    top2 = np.argsort(probs, axis=1)[:, -2:]
    metrics = {
        "accuracy": float(tp.sum() / total),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "precision_macro": float(precision[seen].mean()) if seen.any() else 0.0,
        "recall_macro": float(recall[seen].mean()) if seen.any() else 0.0,
        "f1_macro": float(f1[seen].mean()) if seen.any() else 0.0,
        "f1_weighted": float((f1 * support).sum() / total),
        "roc_auc_macro": roc_auc_macro(y_true, probs),
        "top2_accuracy": float((top2 == y_true[:, None]).any(axis=1).mean()) if len(y_true) else 0.0,
    }
    per_class = {
        names[k]: {
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "support": int(support[k]),
        }
        for k in range(n_classes)
    }
    return ClassificationReport(metrics=metrics, per_class=per_class, confusion_matrix=cm.tolist())


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """The summary metrics only (the contract's function)."""
    return classification_report(y_true, probs).metrics


def normalised_confusion(cm: Any) -> np.ndarray:
    """Rows sum to 1 (recall per true class); empty rows stay 0."""
    cm = np.asarray(cm, dtype=np.float64)
    return _safe_div(cm, cm.sum(axis=1, keepdims=True).repeat(cm.shape[1], axis=1))
