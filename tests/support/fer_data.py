"""Dataset fixtures from synthetic faces: folder trees, zips, challenge CSVs, and `tiny_fer`, one tiny dataset in
every source form (registered in tests/conftest.py: the data-layer and the CLI tests use it)."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_models.data.labels import EMOTIONS
from fer_models.data.synthetic import generate_faces

PER_CLASS_TRAIN = 10
PER_CLASS_TEST = 3


@dataclass(frozen=True)
class TinyFer:
    images: np.ndarray  # in canonical order: train then test, by class, by file name
    labels: np.ndarray
    is_test: np.ndarray
    folder: Path  # holds train/<emotion>/ and test/<emotion>/
    archive: Path  # the same tree inside fer2013/ in a zip
    csv: Path  # the same images as a challenge CSV (Training / PrivateTest)


def write_tree(root: Path, images: np.ndarray, labels: np.ndarray, split_names: list[str],
               folder_names: tuple[str, ...] = EMOTIONS, suffix: str = ".png") -> None:
    for i, (image, label, split) in enumerate(zip(images, labels, split_names)):
        folder = root / split / folder_names[label] if split else root / folder_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"img_{i:04d}{suffix}")


def zip_tree(root: Path, archive: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(root).as_posix())


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, usages: list[str]) -> None:
    lines = ["emotion,pixels,Usage"]
    for image, label, usage in zip(images, labels, usages):
        lines.append(f"{label},{' '.join(map(str, image.ravel()))},{usage}")
    path.write_text("\n".join(lines) + "\n")


USAGE_PER_CLASS = {"Training": 9, "PublicTest": 3, "PrivateTest": 3}  # odd: the carved val share rounds


def write_usage_csv(path: Path, seed: int = 5) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A challenge CSV with all three Usage values: 7 classes x (9 Training, 3 PublicTest, 3 PrivateTest)
    distinct random faces. Returns (images, labels, usages) in row order."""
    rng = np.random.default_rng(seed)
    usages = [usage for usage, n in USAGE_PER_CLASS.items() for _ in range(7 * n)]
    labels = np.concatenate([np.arange(7 * n) % 7 for n in USAGE_PER_CLASS.values()]).astype(np.int64)
    images = rng.integers(0, 256, size=(len(usages), 48, 48), dtype=np.uint8)
    write_csv(path, images, labels, usages)
    return images, labels, usages


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}|".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def tiny_fer(tmp_path_factory: pytest.TempPathFactory) -> TinyFer:
    base = tmp_path_factory.mktemp("tiny-fer")
    n_train, n_test = 7 * PER_CLASS_TRAIN, 7 * PER_CLASS_TEST
    images, labels = generate_faces(n_train + n_test, seed=123)
    labels = np.concatenate([np.arange(n_train) % 7, np.arange(n_test) % 7]).astype(np.int64)
    is_test = np.arange(n_train + n_test) >= n_train
    # File names numbered in canonical order (train, then test; by class) so every form lists alike.
    order = np.lexsort((np.arange(labels.size), labels, is_test))
    images, labels, is_test = images[order], labels[order], is_test[order]
    folder = base / "kaggle"
    write_tree(folder, images, labels, ["test" if t else "train" for t in is_test])
    archive = base / "fer2013.zip"
    zip_tree(folder, archive, prefix="fer2013/")
    csv = base / "fer2013.csv"
    write_csv(csv, images, labels, ["PrivateTest" if t else "Training" for t in is_test])
    return TinyFer(images, labels, is_test, folder, archive, csv)
