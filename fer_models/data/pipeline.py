"""From cached uint8 faces to model input, and class weights for the imbalance (TF-free)."""

from __future__ import annotations

import numpy as np

CLASS_WEIGHT_MODES = ("none", "balanced")


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, H, W, 1) in 0..255, in one vectorised cast (models normalise inside)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W), got {images.shape}")
    return images.astype(np.float32)[..., np.newaxis]


def class_weights(labels: np.ndarray, mode: str = "balanced", *, num_classes: int | None = None) -> dict[int, float] | None:
    """Keras `class_weight`: None for "none"; for "balanced" n / (k * count_c), so the mean weight per image is 1."""
    if mode not in CLASS_WEIGHT_MODES:
        raise ValueError(f"unknown class weighting {mode!r}; accepted: {', '.join(CLASS_WEIGHT_MODES)}")
    if mode == "none":
        return None
    labels = np.asarray(labels, dtype=np.int64)
    k = num_classes or (int(labels.max()) + 1 if labels.size else 0)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    present = counts > 0
    weights = np.zeros(k)
    weights[present] = labels.size / (present.sum() * counts[present])
    return {int(c): float(weights[c]) for c in range(k)}


def balanced_sample_weights(labels: np.ndarray) -> np.ndarray:
    """Per-image float32 weights equivalent to `class_weights(labels, "balanced")`."""
    table = class_weights(labels, "balanced") or {}
    lookup = np.array([table[c] for c in range(len(table))], dtype=np.float32)
    return lookup[np.asarray(labels, dtype=np.int64)]
