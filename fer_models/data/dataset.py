"""The in-memory dataset every experiment trains on: uint8 faces, labels and a fixed split (TF-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_models.vocabulary import TEST_PARTS, Protocol

SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST = 0, 1, 2
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
# test_part codes: which part of an official test set an image belongs to (FER2013's PublicTest, PrivateTest).
PART_NONE, PART_PUBLIC, PART_PRIVATE = 0, 1, 2


@dataclass(frozen=True)
class DecodeNotes:
    """What decoding skipped or dropped: the data report shows it, so nothing disappears silently."""

    source: str = ""
    layout: str = ""
    bad_files: tuple[str, ...] = ()  # unreadable/corrupt images (first ones kept, count in n_bad)
    n_bad: int = 0
    skipped_rows: tuple[int, ...] = ()  # CSV line numbers skipped with skip_bad (first ones kept)
    n_skipped_rows: int = 0
    dropped_classes: dict[str, int] = field(default_factory=dict)  # non-FER classes (e.g. contempt) -> images

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "layout": self.layout,
            "bad_files": list(self.bad_files),
            "n_bad": self.n_bad,
            "skipped_rows": list(self.skipped_rows),
            "n_skipped_rows": self.n_skipped_rows,
            "dropped_classes": dict(self.dropped_classes),
        }

    @classmethod
    def from_json(cls, data: dict) -> DecodeNotes:
        return cls(
            source=str(data.get("source", "")),
            layout=str(data.get("layout", "")),
            bad_files=tuple(data.get("bad_files", ())),
            n_bad=int(data.get("n_bad", 0)),
            skipped_rows=tuple(int(r) for r in data.get("skipped_rows", ())),
            n_skipped_rows=int(data.get("n_skipped_rows", 0)),
            dropped_classes={str(k): int(v) for k, v in data.get("dropped_classes", {}).items()},
        )


@dataclass(frozen=True)
class Dataset:
    name: str
    images: np.ndarray  # uint8 (N, 48, 48)
    labels: np.ndarray  # int64 (N,)
    split: np.ndarray  # int8 (N,): SPLIT_TRAIN / SPLIT_VAL / SPLIT_TEST
    class_names: tuple[str, ...]
    source_fingerprint: str
    split_fingerprint: str
    split_seed: int
    notes: DecodeNotes = field(default_factory=DecodeNotes)
    # "official": the source supplied the test images (CSV Usage, a test/ folder); "holdout": test carved 80/10/10.
    protocol: Protocol = "holdout"
    # int8 (N,): PART_PUBLIC / PART_PRIVATE on test images, PART_NONE elsewhere; None unless the test set has both.
    test_part: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of one split: "train", "val" or "test"."""
        if which not in SPLIT_NAMES:
            raise ValueError(f"unknown split {which!r}; accepted: {', '.join(SPLIT_NAMES)}")
        mask = self.split == SPLIT_NAMES.index(which)
        return self.images[mask], self.labels[mask]

    def test_parts(self) -> dict[str, np.ndarray]:
        """{"public": mask, "private": mask} over the test subset's images; empty unless the test set has both."""
        if self.test_part is None:
            return {}
        parts = self.test_part[self.split == SPLIT_TEST]
        masks = {name: parts == code for name, code in zip(TEST_PARTS, (PART_PUBLIC, PART_PRIVATE))}
        return masks if all(mask.any() for mask in masks.values()) else {}

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class per split: {"train": {"Angry": n, ...}, "val": ..., "test": ...}."""
        k = len(self.class_names)
        table = np.zeros((len(SPLIT_NAMES), k), dtype=np.int64)
        np.add.at(table, (self.split.astype(np.int64), self.labels), 1)
        return {
            split_name: {name: int(table[s, c]) for c, name in enumerate(self.class_names)}
            for s, split_name in enumerate(SPLIT_NAMES)
        }

    def split_sizes(self) -> dict[str, int]:
        sizes = np.bincount(self.split.astype(np.int64), minlength=len(SPLIT_NAMES))
        return {name: int(sizes[i]) for i, name in enumerate(SPLIT_NAMES)}
