"""Test-time augmentation: average predictions over flipped or ten-cropped copies of each batch.

Crops are resized back to the input size so any model that takes the original images takes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TTA_MODES = ("none", "flip", "ten_crop")
CROP_FRACTION = 0.875  # 42 of 48 pixels, the usual FER ten-crop


def _resize(batch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, h, w, C) to (N, H, W, C) in numpy (no framework needed)."""
    n, h, w, c = batch.shape
    out_h, out_w = size
    ys = (np.arange(out_h) + 0.5) * h / out_h - 0.5
    xs = (np.arange(out_w) + 0.5) * w / out_w - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.clip(y0 + 1, 0, h - 1), np.clip(x0 + 1, 0, w - 1)
    wy = np.clip(ys - y0, 0.0, 1.0).astype(np.float32)[None, :, None, None]
    wx = np.clip(xs - x0, 0.0, 1.0).astype(np.float32)[None, None, :, None]
    top = batch[:, y0][:, :, x0] * (1 - wx) + batch[:, y0][:, :, x1] * wx
    bottom = batch[:, y1][:, :, x0] * (1 - wx) + batch[:, y1][:, :, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def tta_views(images: np.ndarray, mode: str, *, crop_size: int | None = None) -> list[np.ndarray]:
    """The copies a mode averages over, each shaped like `images` (N, H, W, C).

    `crop_size`: ten-crop's crop in pixels (a model trained on crops of that size, resized back, is
    tested on the same); default 87.5% of the side.
    """
    if mode not in TTA_MODES:
        raise ValueError(f"unknown TTA mode {mode!r}; accepted: {', '.join(TTA_MODES)}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if mode == "none":
        return [images]
    flipped = images[:, :, ::-1]
    if mode == "flip":
        return [images, flipped]
    _, h, w, _ = images.shape
    if crop_size:
        ch, cw = min(crop_size, h), min(crop_size, w)
    else:
        ch, cw = max(1, round(h * CROP_FRACTION)), max(1, round(w * CROP_FRACTION))
    corners = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    views = []
    for source in (images, flipped):
        for top, left in corners:
            views.append(_resize(source[:, top:top + ch, left:left + cw], (h, w)))
    return views


def predict_with_tta(predict_fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, mode: str, *,
                     plain_probs: np.ndarray | None = None, crop_size: int | None = None) -> np.ndarray:
    """Mean of `predict_fn` over the mode's views: (N, classes) float32; "none" is one plain call.

    `plain_probs`: `predict_fn(images)` when the caller already has it (an evaluation's plain pass);
    it stands in for the view that is the unchanged images ("none" and "flip" start with it), so the
    test set is not predicted twice.
    """
    views = tta_views(images, mode, crop_size=crop_size)
    total = None
    for i, view in enumerate(views):
        if i == 0 and plain_probs is not None and mode in ("none", "flip"):
            probs = np.asarray(plain_probs, dtype=np.float32)
        else:
            probs = np.asarray(predict_fn(view), dtype=np.float32)
        total = probs if total is None else total + probs
    assert total is not None
    return total / len(views)
