"""Helpers that build dataset fixtures from synthetic faces: folder trees, zips, challenge CSVs."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fer_models.data.labels import EMOTIONS

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


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}|".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


