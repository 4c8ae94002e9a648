"""A tiny face-folder dataset ("tiny", 350 faces) shared by the engine's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferbench.testing.face_folders import write_face_folders


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_face_folders(root, "tiny", n=350)
    return root
