"""FER2013's official evaluation protocol: PublicTest and PrivateTest rows are test images (never training or
model selection), validation is carved from the Training rows, and a dataset knows its protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_models.data import cache, catalog
from fer_models.data.catalog import load_dataset
from fer_models.data.dataset import PART_PRIVATE, PART_PUBLIC, SPLIT_TEST, SPLIT_TRAIN, SPLIT_VAL
from tests.support.fer_data import write_tree, write_usage_csv as usage_csv

def pixel_set(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def test_public_and_private_rows_never_reach_training_or_validation(tmp_path: Path, dirs) -> None:
    data_dir, cache_dir = dirs
    images, labels, usages = usage_csv(tmp_path / "fer2013.csv")
    ds = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv")
    usage = np.array(usages)
    test_pixels = pixel_set(images[usage != "Training"])
    seen_in_training = pixel_set(ds.subset("train")[0]) | pixel_set(ds.subset("val")[0])
    assert not test_pixels & seen_in_training
    assert pixel_set(ds.subset("test")[0]) == test_pixels
    # Validation comes only from Training rows: one image per class of the 9 (10%, rounded), stratified.
    assert pixel_set(ds.subset("val")[0]) <= pixel_set(images[usage == "Training"])
    assert ds.counts()["val"] == {name: 1 for name in ds.class_names}
    assert ds.split_sizes() == {"train": 7 * 8, "val": 7, "test": 7 * 6}
    assert ds.protocol == "official"
    parts = ds.test_parts()
    public_pixels = {ds.subset("test")[0][i].tobytes() for i in np.flatnonzero(parts["public"])}
    assert public_pixels == pixel_set(images[usage == "PublicTest"])
    assert int(parts["private"].sum()) == 21 and not (parts["public"] & parts["private"]).any()


def test_the_cache_keeps_the_parts_and_a_reseeded_split_keeps_the_protocol(tmp_path: Path, dirs) -> None:
    data_dir, cache_dir = dirs
    usage_csv(tmp_path / "fer2013.csv")
    first = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv")
    again = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv")
    assert again.protocol == "official" and np.array_equal(again.test_part, first.test_part)
    assert again.split_fingerprint == first.split_fingerprint
    reseeded = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv",
                            split_seed=7)
    assert reseeded.protocol == "official" and reseeded.split_fingerprint != first.split_fingerprint
    assert np.array_equal(reseeded.split == SPLIT_TEST, first.split == SPLIT_TEST)
    assert set(np.unique(first.test_part[first.split != SPLIT_TEST])) == {0}
    assert set(np.unique(first.test_part[first.split == SPLIT_TEST])) == {PART_PUBLIC, PART_PRIVATE}


def test_a_cache_of_the_old_format_is_rebuilt(tmp_path: Path, dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir, cache_dir = dirs
    usage_csv(tmp_path / "fer2013.csv")
    decodes = []
    original = catalog._decode
    monkeypatch.setattr(catalog, "_decode", lambda ref, **kw: decodes.append(ref) or original(ref, **kw))
    with monkeypatch.context() as old:
        old.setattr(cache, "CACHE_VERSION", 1)
        load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv")
    ds = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "fer2013.csv")
    assert len(decodes) == 2 and ds.protocol == "official"


def test_a_test_folder_is_official_and_class_folders_alone_are_holdout(tmp_path: Path, dirs) -> None:
    data_dir, cache_dir = dirs
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7 * 12, 48, 48), dtype=np.uint8)
    labels = np.arange(images.shape[0]) % 7
    splits = ["test" if i >= 7 * 9 else "train" for i in range(images.shape[0])]
    write_tree(tmp_path / "kaggle", images, labels, splits)
    write_tree(tmp_path / "plain", images, labels, [""] * images.shape[0])
    kaggle = load_dataset("kaggle", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "kaggle")
    plain = load_dataset("plain", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "plain")
    assert kaggle.protocol == "official" and kaggle.test_parts() == {}
    assert pixel_set(kaggle.subset("test")[0]) == pixel_set(images[7 * 9:])
    assert plain.protocol == "holdout" and plain.test_part is None
    assert plain.split_sizes()["test"] > 0 and plain.split_sizes()["val"] > 0
    synthetic = load_dataset("synthetic", data_dir=data_dir, cache_dir=cache_dir)
    assert synthetic.protocol == "holdout"


def test_publictest_and_privatetest_folders_are_the_two_test_parts(tmp_path: Path, dirs) -> None:
    data_dir, cache_dir = dirs
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(7 * 12, 48, 48), dtype=np.uint8)
    labels = np.arange(images.shape[0]) % 7
    folders = ["Training"] * 70 + ["PublicTest"] * 7 + ["PrivateTest"] * 7
    write_tree(tmp_path / "tree", images, labels, folders)
    ds = load_dataset("tree", data_dir=data_dir, cache_dir=cache_dir, source=tmp_path / "tree")
    assert ds.protocol == "official" and ds.split_sizes()["test"] == 14
    assert {k: int(v.sum()) for k, v in ds.test_parts().items()} == {"public": 7, "private": 7}
    assert np.count_nonzero(ds.split == SPLIT_VAL) > 0 and np.count_nonzero(ds.split == SPLIT_TRAIN) > 0
