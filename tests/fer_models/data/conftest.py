"""Fixtures built from synthetic faces: the same tiny dataset as a folder tree, a zip of it and a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_models.data.synthetic import generate_faces
from tests.fer_models.data.fer_data_fixtures import PER_CLASS_TEST, PER_CLASS_TRAIN, TinyFer, write_csv, write_tree, zip_tree


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


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    data_dir.mkdir()
    return data_dir, cache_dir
