"""What a benchmark user must know about the data: class balance per split and exact duplicates,
within a split and across splits (train/test leakage), plus what decoding skipped (TF-free)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fer_models.data.dataset import SPLIT_NAMES, Dataset, DecodeNotes


@dataclass(frozen=True)
class DuplicateStats:
    within: dict[str, int]  # split -> images that repeat an earlier image of the same split
    across: dict[str, int]  # "train-test" etc. -> images of the second split also present in the first
    groups: int  # distinct images that occur more than once anywhere
    conflicting_labels: int  # such groups whose copies carry different labels


@dataclass(frozen=True)
class DataReport:
    name: str
    source: str
    layout: str
    images: int
    split_sizes: dict[str, int]
    counts: dict[str, dict[str, int]]
    imbalance_ratio: float  # largest / smallest class over the whole dataset (inf if a class is empty)
    smallest_class: str
    largest_class: str
    duplicates: DuplicateStats
    constant_images: int  # all pixels equal (blank frames, which FER2013 has)
    source_fingerprint: str
    split_fingerprint: str
    split_seed: int
    notes: DecodeNotes

    def to_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = self.notes.to_json()
        if not np.isfinite(self.imbalance_ratio):
            data["imbalance_ratio"] = None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DataReport:
        """The report `to_dict` wrote (e.g. an API answer), to print it with `to_text`."""
        values = dict(data)
        values["duplicates"] = DuplicateStats(**values["duplicates"])
        values["notes"] = DecodeNotes.from_json(values["notes"])
        if values.get("imbalance_ratio") is None:
            values["imbalance_ratio"] = float("inf")
        return cls(**values)

    def to_text(self) -> str:
        lines = [f"Dataset {self.name}: {self.images} images from {self.source} ({self.layout})",
                 f"  split seed {self.split_seed}, split fingerprint {self.split_fingerprint}, "
                 f"source fingerprint {self.source_fingerprint}"]
        classes = list(next(iter(self.counts.values())))
        width = max(len(c) for c in classes)
        lines.append("  " + "class".ljust(width) + "".join(f"{s:>8}" for s in SPLIT_NAMES) + f"{'total':>8}")
        for c in classes:
            row = [self.counts[s][c] for s in SPLIT_NAMES]
            lines.append("  " + c.ljust(width) + "".join(f"{v:>8}" for v in row) + f"{sum(row):>8}")
        lines.append("  " + "all".ljust(width) + "".join(f"{self.split_sizes[s]:>8}" for s in SPLIT_NAMES)
                     + f"{self.images:>8}")
        ratio = f"{self.imbalance_ratio:.1f}" if np.isfinite(self.imbalance_ratio) else "inf (a class is empty)"
        lines.append(f"  class imbalance: {ratio} ({self.largest_class} / {self.smallest_class})")
        d = self.duplicates
        within = ", ".join(f"{k} {v}" for k, v in d.within.items())
        across = ", ".join(f"{k} {v}" for k, v in d.across.items())
        lines.append(f"  exact duplicates within splits: {within}")
        lines.append(f"  exact duplicates across splits (leakage): {across}")
        lines.append(f"  duplicated images: {d.groups} distinct, {d.conflicting_labels} with conflicting labels; "
                     f"constant (blank) images: {self.constant_images}")
        n = self.notes
        if n.n_bad:
            lines.append(f"  skipped unreadable images: {n.n_bad} (first: {', '.join(n.bad_files[:5])})")
        if n.n_skipped_rows:
            lines.append(f"  skipped bad CSV rows: {n.n_skipped_rows} (first lines: {list(n.skipped_rows[:5])})")
        for folder, count in n.dropped_classes.items():
            lines.append(f"  dropped class {folder!r}: {count} images (not one of the 7 FER classes)")
        return "\n".join(lines)


def _duplicates(images: np.ndarray, labels: np.ndarray, split: np.ndarray) -> DuplicateStats:
    n = images.shape[0]
    if n == 0:
        return DuplicateStats({s: 0 for s in SPLIT_NAMES}, {}, 0, 0)
    rows = np.ascontiguousarray(images.reshape(n, -1))
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    _, group, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    group = group.ravel()
    k = sizes.shape[0]
    within = {}
    present = np.zeros((len(SPLIT_NAMES), k), dtype=bool)
    for s, name in enumerate(SPLIT_NAMES):
        members = group[split == s]
        within[name] = int(members.size - np.unique(members).size)
        present[s, members] = True
    across = {}
    for a in range(len(SPLIT_NAMES)):
        for b in range(a + 1, len(SPLIT_NAMES)):
            in_b = split == b
            across[f"{SPLIT_NAMES[a]}-{SPLIT_NAMES[b]}"] = int(np.count_nonzero(present[a, group[in_b]]))
    label_min = np.full(k, np.iinfo(np.int64).max)
    label_max = np.full(k, -1)
    np.minimum.at(label_min, group, labels)
    np.maximum.at(label_max, group, labels)
    repeated = sizes > 1
    return DuplicateStats(within, across, int(repeated.sum()), int(np.count_nonzero(repeated & (label_min != label_max))))


def dataset_report(dataset: Dataset) -> DataReport:
    counts = dataset.counts()
    totals = {c: sum(counts[s][c] for s in SPLIT_NAMES) for c in dataset.class_names}
    largest = max(totals, key=totals.__getitem__)
    smallest = min(totals, key=totals.__getitem__)
    ratio = totals[largest] / totals[smallest] if totals[smallest] else float("inf")
    flat = dataset.images.reshape(len(dataset), -1)
    constant = int(np.count_nonzero(flat.min(axis=1) == flat.max(axis=1))) if len(dataset) else 0
    return DataReport(
        name=dataset.name, source=dataset.notes.source or "?", layout=dataset.notes.layout or "?",
        images=len(dataset), split_sizes=dataset.split_sizes(), counts=counts, imbalance_ratio=float(ratio),
        smallest_class=smallest, largest_class=largest,
        duplicates=_duplicates(dataset.images, dataset.labels, dataset.split), constant_images=constant,
        source_fingerprint=dataset.source_fingerprint, split_fingerprint=dataset.split_fingerprint,
        split_seed=dataset.split_seed, notes=dataset.notes,
    )
