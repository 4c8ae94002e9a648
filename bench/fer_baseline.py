"""The `fer` PyPI package as the baseline of bench_serving, measured in the same run on the same images.

`fer` is installed only here, into a folder of its own (`pip install --no-deps --target`), never as a
dependency of FER Bench: its declared dependencies (PyTorch for an MTCNN detector we do not use,
moviepy, pandas) are not needed for its Haar detector and mini-Xception classifier, and TensorFlow and
OpenCV come from the benchmark's own environment.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FER_VERSION = "25.10.3"


def ensure_fer(target: Path) -> None:
    """`fer` importable from `target` (installed there first if it is not yet)."""
    if not (target / "fer" / "fer.py").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        f"fer=={FER_VERSION}"], check=True)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))


def load_fer(target: Path) -> Any:
    """fer's detector and classifier as its users get them: `FER()` with its defaults (TFLite model)."""
    import logging

    ensure_fer(target)
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.WARNING)
    return FER()


def classify_crops(detector: Any, faces: np.ndarray) -> np.ndarray:
    """What fer.detect_emotions does with each face it has cut out: resize to its 64x64 input, scale to
    [-1, 1], classify the batch (fer's own method)."""
    import cv2

    batch = np.stack([cv2.resize(face, (64, 64)) for face in faces]).astype("float32")
    batch = (batch / 255.0 - 0.5) * 2.0
    return np.asarray(detector._classify_emotions(batch))  # noqa: SLF001 - fer's batch path, as detect_emotions calls it


def crops_per_second(detector: Any, faces: np.ndarray, repeats: int) -> float:
    classify_crops(detector, faces)  # warm up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        classify_crops(detector, faces)
        best = max(best, len(faces) / (time.perf_counter() - start))
    return best


def photo_latencies_ms(detector: Any, photo_bgr: np.ndarray, repeats: int) -> list[float]:
    """fer.detect_emotions on one photo, in process (no HTTP): its detector and classifier together."""
    detector.detect_emotions(photo_bgr)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detector.detect_emotions(photo_bgr)
        times.append((time.perf_counter() - start) * 1000)
    return times
