"""Cache reuse and invalidation, corrupt caches, and reproducible stratified splits."""

import os
import shutil

import numpy as np
import pytest

from fer_models.data import catalog
from fer_models.data.cache import SUFFIX, caches_of
from fer_models.data.catalog import list_datasets, load_dataset
from fer_models.data.dataset import SPLIT_TEST, SPLIT_TRAIN, SPLIT_VAL
from fer_models.data.splits import UNASSIGNED, assign_split


@pytest.fixture()
def decode_counter(monkeypatch):
    calls = []
    original = catalog._decode

    def counting(ref, **kwargs):
        calls.append(ref)
        return original(ref, **kwargs)

    monkeypatch.setattr(catalog, "_decode", counting)
    return calls


def test_second_load_reuses_the_cache_and_a_changed_source_rebuilds_it(tiny_fer, tmp_path, dirs, decode_counter):
    data_dir, cache_dir = dirs
    source = tmp_path / "fer2013.csv"
    shutil.copy(tiny_fer.csv, source)
    first = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=source)
    second = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=source)
    assert len(decode_counter) == 1
    assert np.array_equal(first.images, second.images) and first.split_fingerprint == second.split_fingerprint
    # Gone source, same name: the cache is the dataset.
    source.rename(tmp_path / "moved.csv")
    third = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir)
    assert len(decode_counter) == 1 and third.source_fingerprint == first.source_fingerprint
    # Modified source: rebuilt, and the old cache file is replaced (one file per dataset).
    lines = (tmp_path / "moved.csv").read_text().splitlines()
    source.write_text("\n".join(lines[:-1]) + "\n")
    fourth = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=source)
    assert len(decode_counter) == 2 and len(fourth) == len(first) - 1
    assert fourth.source_fingerprint != first.source_fingerprint
    assert len(caches_of(cache_dir, "fer2013")) == 1


def test_touching_a_folder_source_rebuilds(tiny_fer, tmp_path, dirs, decode_counter):
    folder = tmp_path / "tree"
    shutil.copytree(tiny_fer.folder, folder)
    load_dataset("mine", data_dir=dirs[0], cache_dir=dirs[1], source=folder)
    load_dataset("mine", data_dir=dirs[0], cache_dir=dirs[1], source=folder)
    assert len(decode_counter) == 1
    some_image = next(folder.rglob("*.png"))
    os.utime(some_image, ns=(some_image.stat().st_atime_ns, some_image.stat().st_mtime_ns + 10**9))
    load_dataset("mine", data_dir=dirs[0], cache_dir=dirs[1], source=folder)
    assert len(decode_counter) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip_payload_byte", "flip_header_byte", "garbage", "empty"])
def test_corrupt_cache_is_detected_and_rebuilt(tiny_fer, dirs, decode_counter, damage):
    data_dir, cache_dir = dirs
    good = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tiny_fer.csv)
    (path,) = caches_of(cache_dir, "fer2013")
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) - 100]
    elif damage == "flip_payload_byte":
        raw[-500] ^= 0xFF
    elif damage == "flip_header_byte":
        raw[40] ^= 0x01
    elif damage == "garbage":
        raw = bytearray(b"x" * 100)
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    again = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=tiny_fer.csv)
    assert len(decode_counter) == 2
    assert np.array_equal(again.images, good.images) and again.split_fingerprint == good.split_fingerprint
    assert path.read_bytes() != bytes(raw)  # rewritten
    assert not [p for p in cache_dir.iterdir() if not p.name.endswith(SUFFIX)]  # no temp files left


def test_synthetic_is_600_per_class_split_80_10_10_and_deterministic(dirs):
    ds = load_dataset("synthetic", data_dir=dirs[0], cache_dir=dirs[1])
    assert ds.split_sizes() == {"train": 3360, "val": 420, "test": 420}
    for split, per_class in (("train", 480), ("val", 60), ("test", 60)):
        assert set(ds.counts()[split].values()) == {per_class}
    other_cache = dirs[1].parent / "cache2"
    again = load_dataset("synthetic", data_dir=dirs[0], cache_dir=other_cache)
    assert np.array_equal(again.split, ds.split) and again.split_fingerprint == ds.split_fingerprint
    reseeded = load_dataset("synthetic", data_dir=dirs[0], cache_dir=dirs[1], split_seed=7)
    assert reseeded.split_fingerprint != ds.split_fingerprint and reseeded.split_seed == 7
    assert reseeded.split_sizes() == ds.split_sizes()


def test_stratified_split_keeps_class_proportions():
    rng = np.random.default_rng(0)
    labels = rng.choice(7, size=5000, p=[0.14, 0.015, 0.14, 0.25, 0.17, 0.11, 0.175])
    split = assign_split(labels, None, seed=3)
    for cls in range(7):
        members = split[labels == cls]
        fractions = np.bincount(members, minlength=3) / members.size
        assert abs(fractions[SPLIT_TRAIN] - 0.8) < 0.02 and abs(fractions[SPLIT_VAL] - 0.1) < 0.02
    assert np.array_equal(split, assign_split(labels, None, seed=3))
    assert not np.array_equal(split, assign_split(labels, None, seed=4))


def test_official_test_kept_and_val_carved_from_train():
    labels = np.arange(1000) % 7
    official = np.where(np.arange(1000) >= 800, SPLIT_TEST, UNASSIGNED).astype(np.int8)
    split = assign_split(labels, official, seed=1)
    assert np.array_equal(split == SPLIT_TEST, official == SPLIT_TEST)
    assert np.count_nonzero(split == SPLIT_VAL) == pytest.approx(80, abs=7)
    # With an official validation set (a val/ folder) nothing is carved.
    official[700:800] = SPLIT_VAL
    split = assign_split(labels, official, seed=1)
    assert np.array_equal(split[official != UNASSIGNED], official[official != UNASSIGNED])
    assert np.all(split[official == UNASSIGNED] == SPLIT_TRAIN)


def test_list_datasets_reports_presence_and_sizes(tiny_fer, dirs):
    data_dir, cache_dir = dirs
    infos = {i.name: i for i in list_datasets(data_dir, cache_dir)}
    assert not infos["fer2013"].present and "kaggle" in infos["fer2013"].how_to_get.lower()
    assert infos["synthetic"].present and infos["synthetic"].split_sizes == {"train": 3360, "val": 420, "test": 420}
    shutil.copy(tiny_fer.archive, data_dir / "fer2013.zip")
    shutil.copytree(tiny_fer.folder / "train", data_dir / "jaffe")
    assert catalog.dataset_names(data_dir) == ["fer2013", "synthetic", "jaffe"]
    load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir)
    infos = {i.name: i for i in list_datasets(data_dir, cache_dir)}
    assert infos["fer2013"].present and infos["fer2013"].cached
    assert sum(infos["fer2013"].split_sizes.values()) == len(tiny_fer.labels)
    assert infos["jaffe"].present and infos["jaffe"].split_sizes is None
