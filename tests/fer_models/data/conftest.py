"""Fixtures of the data-layer tests (`tiny_fer`, the same tiny dataset in every source form, is suite-wide:
tests/support/fer_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    data_dir.mkdir()
    return data_dir, cache_dir
