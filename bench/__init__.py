"""Benchmarks: each prints its figures and a ratio against a baseline measured in the same run."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# FER2013's Kaggle training zip (train/<emotion>/*.jpg), kept beside the repository in ../shared/datasets/.
DEFAULT_ZIP = ROOT.parent / "shared" / "datasets" / "fer2013-train.zip"


def fer2013_zip_path() -> Path:
    """$FERBENCH_FER2013_ZIP, else ../shared/datasets/fer2013-train.zip (which may not exist)."""
    return Path(os.environ.get("FERBENCH_FER2013_ZIP") or DEFAULT_ZIP)
