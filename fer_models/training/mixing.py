"""Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019): training batches that blend two images and their labels.

The batches are mixed in numpy by a Keras PyDataset, so the same code serves every backend; it is
used only when the spec asks for mixing (plain arrays go to `fit` otherwise). One permutation of the
batch supplies each image's partner; the labels are mixed by exactly the fraction of the image each
partner contributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Mixed:
    images: np.ndarray
    labels: np.ndarray
    lam: float  # the share of the original image (and label) in every mixed one
    partner: np.ndarray  # index of each image's partner within the batch
    method: str  # "mixup" | "cutmix"


def mix_batch(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, mixup: float,
              cutmix: float) -> Mixed:
    """Mix one batch (N, H, W, C) float images with one-hot (N, K) labels; with both on, each batch uses one."""
    partner = rng.permutation(len(images))
    if cutmix > 0 and (mixup <= 0 or rng.random() < 0.5):
        h, w = images.shape[1], images.shape[2]
        cut = math.sqrt(1.0 - rng.beta(cutmix, cutmix))
        ch, cw = int(round(h * cut)), int(round(w * cut))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out = images.copy()
        out[:, top:top + ch, left:left + cw] = images[partner, top:top + ch, left:left + cw]
        lam = 1.0 - (ch * cw) / (h * w)  # the pasted box as it really is after rounding
        method = "cutmix"
    else:
        lam = float(rng.beta(mixup, mixup))
        out = lam * images + (1.0 - lam) * images[partner]
        method = "mixup"
    mixed_labels = lam * labels + (1.0 - lam) * labels[partner]
    return Mixed(out.astype(images.dtype, copy=False), mixed_labels.astype(labels.dtype, copy=False), lam, partner,
                 method)


def mixed_batches(images: np.ndarray, labels: np.ndarray, *, batch_size: int, mixup: float, cutmix: float,
                  seed: int, class_weight: dict[int, float] | None = None) -> Any:
    """A Keras PyDataset of shuffled, mixed batches (a new order every epoch); with class weights, each
    mixed image's sample weight is its label mix of the class weights."""
    import keras

    table = None
    if class_weight:
        table = np.array([class_weight[k] for k in range(labels.shape[1])], dtype=np.float32)

    class MixedBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(images))

        def __len__(self) -> int:
            return math.ceil(len(images) / batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
            chosen = self.order[index * batch_size:(index + 1) * batch_size]
            mixed = mix_batch(images[chosen], labels[chosen], self.rng, mixup=mixup, cutmix=cutmix)
            if table is None:
                return mixed.images, mixed.labels
            return mixed.images, mixed.labels, mixed.labels @ table

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(images))

    return MixedBatches()
