"""Reproducible stratified splits and the fingerprint that identifies one (TF-free)."""

from __future__ import annotations

import hashlib

import numpy as np

from fer_models.data.dataset import PART_PRIVATE, PART_PUBLIC, SPLIT_TEST, SPLIT_TRAIN, SPLIT_VAL
from fer_models.vocabulary import Protocol

UNASSIGNED = -1  # in an official split: an image the source leaves to us (train pool without a val set)
VAL_FRACTION = 0.1
TEST_FRACTION = 0.1


def _stratified(labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """Part index per sample: each class is shuffled and cut at the cumulative fractions."""
    parts = np.zeros(labels.shape[0], dtype=np.int8)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[rng.permutation(members.shape[0])]
        cuts = np.round(np.cumsum(fractions) * members.shape[0]).astype(np.int64)
        start = 0
        for part, stop in enumerate(cuts):
            parts[members[start:stop]] = part
            start = stop
        parts[members[start:]] = len(fractions)
    return parts


def assign_split(labels: np.ndarray, official: np.ndarray | None, seed: int) -> np.ndarray:
    """int8 split per image.

    No official split: stratified 80/10/10 train/val/test. An official test (or val) set is kept and
    the missing ones are carved, stratified, from the rest (10% each of it).
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    split = (np.full(labels.shape[0], UNASSIGNED, dtype=np.int8) if official is None
             else np.asarray(official, dtype=np.int8).copy())
    pool = np.flatnonzero(split == UNASSIGNED)
    need_val = not np.any(split == SPLIT_VAL)
    need_test = not np.any(split == SPLIT_TEST)
    if pool.size == 0:
        return split
    # The parts the pool is cut into, in this order; what is left after the cuts is train.
    targets = ([SPLIT_VAL] if need_val else []) + ([SPLIT_TEST] if need_test else [])
    fractions = tuple([VAL_FRACTION] * len(targets))
    parts = _stratified(labels[pool], fractions, rng) if targets else np.zeros(pool.size, dtype=np.int8)
    lookup = np.array(targets + [SPLIT_TRAIN], dtype=np.int8)
    split[pool] = lookup[parts]
    return split


def protocol_of(official: np.ndarray | None) -> Protocol:
    """"official" when the source supplied test images (CSV Usage, a test/ folder), else "holdout" (carved)."""
    return "official" if official is not None and bool(np.any(np.asarray(official) == SPLIT_TEST)) else "holdout"


def kept_test_part(test_part: np.ndarray | None) -> np.ndarray | None:
    """The public/private marks when the test set has both parts (worth reporting apart), else None."""
    if test_part is None:
        return None
    test_part = np.asarray(test_part, dtype=np.int8)
    both = bool(np.any(test_part == PART_PUBLIC)) and bool(np.any(test_part == PART_PRIVATE))
    return test_part if both else None


def split_fingerprint(images: np.ndarray, labels: np.ndarray, split: np.ndarray, *,
                      protocol: Protocol = "holdout", test_part: np.ndarray | None = None) -> str:
    """Hash of the split assignment and the content it assigns: equal only for the same experiment data.

    An official split also hashes its protocol and public/private marks, so its fingerprint differs from
    the fingerprints of results stored before the protocol existed (recorded as "holdout").
    """
    digest = hashlib.sha256()
    digest.update(f"{images.shape}|{labels.shape}|{split.shape}".encode())
    if protocol != "holdout":
        digest.update(f"|protocol={protocol}|".encode())
        if test_part is not None:
            digest.update(np.ascontiguousarray(test_part, dtype=np.int8).data)
    digest.update(np.ascontiguousarray(split, dtype=np.int8).data)
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).data)
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).data)
    return digest.hexdigest()[:32]
