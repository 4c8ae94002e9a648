"""Tiny on-disk datasets for tests and benchmarks: synthetic faces written as PNGs in emotion-named folders."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from fer_models.data.labels import EMOTIONS
from fer_models.data.synthetic import generate_faces


def write_face_folders(data_dir: Path, name: str = "tiny", *, n: int = 350, seed: int = 0) -> Path:
    """`data_dir/name/<emotion>/<i>.png`, n faces balanced over the 7 classes; returns the dataset folder."""
    root = Path(data_dir) / name
    images, labels = generate_faces(n, seed=seed)
    for emotion in EMOTIONS:
        (root / emotion).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image, mode="L").save(root / EMOTIONS[int(label)] / f"{i:05d}.png")
    return root
