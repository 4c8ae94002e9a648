"""Where a run happened: code version, library versions, Keras backend, device."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path


def git_commit() -> str | None:
    """HEAD of the checkout this code runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("keras", "tensorflow", "tensorflow-cpu", "jax", "numpy", "mlflow", "scikit-learn"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def keras_backend() -> str:
    import keras

    return keras.backend.backend()


def accelerator() -> str | None:
    """Name of the first GPU the Keras backend sees, or None on CPU."""
    backend = keras_backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return str(details.get("device_name", "GPU"))
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus:
                return str(gpus[0].device_kind)
    except Exception:  # device discovery is informational only
        return None
    return None


def device_description() -> str:
    gpu = accelerator()
    return f"GPU: {gpu}" if gpu else f"CPU: {platform.processor() or platform.machine()}"
