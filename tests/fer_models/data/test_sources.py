"""Every source form, the same images: folder, zip (inside fer2013/), CSV; and every bad input."""

import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from fer_models.data.catalog import load_dataset
from fer_models.data.csv_reader import decode_csv
from fer_models.data.dataset import SPLIT_TEST
from fer_models.data.image_reader import decode_tree
from fer_models.data.layouts import detect_source
from fer_models.data.synthetic import generate_faces
from fer_models.errors import DatasetError

from tests.support.fer_data import tree_digest, write_csv, write_tree, zip_tree


def _load(name, source, dirs, **kwargs):
    data_dir, cache_dir = dirs
    return load_dataset(name, data_dir=data_dir, cache_dir=cache_dir, source=source, **kwargs)


def test_folder_zip_and_csv_give_identical_arrays(tiny_fer, dirs):
    forms = [_load("fer2013", src, dirs) for src in (tiny_fer.folder, tiny_fer.archive, tiny_fer.csv)]
    for ds in forms:
        assert np.array_equal(ds.images, tiny_fer.images)
        assert np.array_equal(ds.labels, tiny_fer.labels)
        # The official test set is kept as the test set.
        assert np.array_equal(ds.split == SPLIT_TEST, tiny_fer.is_test)
    assert forms[0].split_fingerprint == forms[1].split_fingerprint == forms[2].split_fingerprint
    assert "zip" in forms[1].notes.layout and "csv" in forms[2].notes.layout


def test_fer2013_found_under_data_dir_in_each_form(tiny_fer, dirs):
    data_dir, cache_dir = dirs
    for place in ("fer2013/fer2013.csv", "fer2013/archive.zip", "fer2013.csv"):
        target = data_dir / place
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_fer.archive if place.endswith(".zip") else tiny_fer.csv, target)
        ds = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir)
        assert np.array_equal(ds.images, tiny_fer.images)
        shutil.rmtree(data_dir)
        data_dir.mkdir()
    shutil.copytree(tiny_fer.folder, data_dir / "fer2013")
    assert np.array_equal(load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir).labels, tiny_fer.labels)


def test_generic_folder_any_size_and_colour_with_aliases(tmp_path, dirs):
    images, labels = generate_faces(14, seed=3)
    root = dirs[0] / "ckplus"
    names = ("Anger", "disgusted", "FEARFUL", "happiness", "sadness", "surprised", "neutral")
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        big = Image.fromarray(image).resize((96, 120)).convert("RGB")  # colour, non-square
        big.save(folder / f"{i}.jpg" if i % 2 else folder / f"{i}.png")
    ds = load_dataset("ckplus", data_dir=dirs[0], cache_dir=dirs[1])
    assert ds.images.shape == (14, 48, 48) and ds.images.dtype == np.uint8
    assert sorted(ds.labels.tolist()) == sorted(labels.tolist())
    assert ds.split_sizes()["train"] + ds.split_sizes()["val"] + ds.split_sizes()["test"] == 14


def test_known_non_fer_class_is_dropped_with_a_count(tmp_path):
    images, labels = generate_faces(14, seed=4)
    write_tree(tmp_path, images, labels, [""] * 14)
    contempt = tmp_path / "contempt"
    contempt.mkdir()
    for i in range(3):
        Image.fromarray(images[i]).save(contempt / f"c{i}.png")
    with pytest.warns(UserWarning, match="dropped 3 images of class 'contempt'"):
        decoded = decode_tree(tmp_path, "folder")
    assert decoded.images.shape[0] == 14 and decoded.notes.dropped_classes == {"contempt": 3}


def test_unknown_class_folder_lists_accepted_names(tmp_path):
    images, labels = generate_faces(7, seed=4)
    write_tree(tmp_path, images, labels, [""] * 7)
    (tmp_path / "bored").mkdir()
    Image.fromarray(images[0]).save(tmp_path / "bored" / "x.png")
    with pytest.raises(DatasetError, match=r"unknown class folder.*'bored'.*happy \(or 3, .*happiness"):
        decode_tree(tmp_path, "folder")


@pytest.mark.parametrize("make", ["missing", "empty", "unknown_format", "not_a_zip", "no_layout"])
def test_bad_paths_name_the_path_and_the_accepted_layouts(tmp_path, make):
    path = tmp_path / "source"
    if make == "empty":
        path.mkdir()
    elif make == "unknown_format":
        path = tmp_path / "faces.h5"
        path.write_bytes(b"\x89HDF")
    elif make == "not_a_zip":
        path = tmp_path / "faces.zip"
        path.write_bytes(b"not a zip")
    elif make == "no_layout":
        path.mkdir()
        (path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError) as info:
        detect_source(path)
    assert str(path) in str(info.value) and "Accepted layouts" in str(info.value) and "fer2013.csv" in str(info.value)


def test_dataset_not_found_says_where_it_looked_and_how_to_get_it(dirs):
    with pytest.raises(DatasetError, match=r"'fer2013' not found .*fer2013\.csv.*kaggle"):
        load_dataset("fer2013", data_dir=dirs[0], cache_dir=dirs[1])


def _csv_lines(tiny_fer, tmp_path, mutate):
    path = tmp_path / "bad.csv"
    lines = tiny_fer.csv.read_text().splitlines()
    mutate(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("mutate,message", [
    (lambda lines: lines.__setitem__(5, lines[5].rsplit(" ", 1)[0] + ",Training"), "line 6: 2303 pixel values"),
    (lambda lines: lines.__setitem__(7, lines[7].replace(" 1", " x1", 1)), "line 8: non-numeric pixel value"),
    (lambda lines: lines.__setitem__(3, "9" + lines[3][1:]), "line 4: emotion '9'"),
    (lambda lines: lines.__setitem__(9, lines[9].replace(" ", " 300 ", 1).rsplit(" ", 1)[0] + ",Training"),
     "line 10: a pixel value is above 255"),
])
def test_bad_csv_rows_fail_with_line_number_or_are_skipped(tiny_fer, tmp_path, mutate, message):
    path = _csv_lines(tiny_fer, tmp_path, mutate)
    with pytest.raises(DatasetError, match=message):
        decode_csv(path)
    with pytest.warns(UserWarning, match="skipped 1 bad rows"):
        decoded = decode_csv(path, skip_bad=True)
    assert decoded.images.shape[0] == tiny_fer.images.shape[0] - 1
    assert decoded.notes.n_skipped_rows == 1 and decoded.notes.skipped_rows[0] == int(message.split()[1][:-1])


def test_csv_without_pixels_column_or_rows(tmp_path):
    no_pixels = tmp_path / "a.csv"
    no_pixels.write_text("emotion,image\n1,foo\n")
    with pytest.raises(DatasetError, match="line 1: .*lacks the emotion and pixels columns"):
        decode_csv(no_pixels)
    header_only = tmp_path / "b.csv"
    header_only.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DatasetError, match="no usable data rows"):
        decode_csv(header_only)


def test_corrupt_images_are_skipped_and_counted(tmp_path):
    images, labels = generate_faces(140, seed=8)
    write_tree(tmp_path, images, labels, ["train"] * 140)
    (tmp_path / "train" / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        decoded = decode_tree(tmp_path, "folder")
    assert decoded.images.shape[0] == 140 and decoded.notes.n_bad == 1
    assert decoded.notes.bad_files == ("train/happy/broken.png",)


def test_more_than_one_percent_corrupt_fails_listing_files(tmp_path):
    images, labels = generate_faces(70, seed=8)
    write_tree(tmp_path, images, labels, ["train"] * 70)
    for i in range(2):
        (tmp_path / "train" / "sad" / f"bad{i}.jpg").write_bytes(b"\xff\xd8\xff garbage")
    archive = tmp_path.parent / f"{tmp_path.name}.zip"
    zip_tree(tmp_path, archive)
    for source, kind in ((tmp_path, "folder"), (archive, "zip")):
        with pytest.raises(DatasetError, match=r"2 of 72 images .* unreadable .*train/sad/bad0\.jpg"):
            decode_tree(source, kind)


def test_a_truncated_zip_is_a_dataset_error(tiny_fer, tmp_path):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(tiny_fer.archive.read_bytes()[: tiny_fer.archive.stat().st_size // 2])
    with pytest.raises(DatasetError, match="cut.zip"):
        load_dataset("fer2013", data_dir=tmp_path, cache_dir=tmp_path / "cache", source=cut)


def test_the_source_is_never_written_to(tiny_fer, dirs):
    before = {p: tree_digest(p) if p.is_dir() else p.read_bytes() for p in (tiny_fer.folder,)}
    stats = {p: p.stat().st_mtime_ns for p in (tiny_fer.archive, tiny_fer.csv)}
    contents = {p: p.read_bytes() for p in (tiny_fer.archive, tiny_fer.csv)}
    for source in (tiny_fer.folder, tiny_fer.archive, tiny_fer.csv):
        _load("fer2013", source, dirs)
        _load("fer2013", source, dirs)
    assert tree_digest(tiny_fer.folder) == before[tiny_fer.folder]
    for p in stats:
        assert p.stat().st_mtime_ns == stats[p] and p.read_bytes() == contents[p]
    assert not list(tiny_fer.folder.parent.glob("*.tmp"))


def test_zip_with_macos_junk_and_text_files(tmp_path):
    images, labels = generate_faces(14, seed=9)
    root = tmp_path / "tree"
    write_tree(root, images, labels, [""] * 14)
    (root / "README.txt").write_text("about")
    archive = tmp_path / "faces.zip"
    zip_tree(root, archive, prefix="faces/")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/faces/._img.png", b"junk")
        zf.writestr("faces/happy/.DS_Store", b"junk")
    decoded = decode_tree(archive, "zip")
    assert decoded.images.shape[0] == 14 and decoded.notes.n_bad == 0


def test_csv_written_from_folder_matches_naive_parse(tiny_fer, tmp_path):
    # Values round-trip exactly through the numpy text parser.
    path = tmp_path / "x.csv"
    write_csv(path, tiny_fer.images[:5], tiny_fer.labels[:5], ["Training"] * 5)
    decoded = decode_csv(path)
    naive = np.array([[int(v) for v in line.split(",")[1].split()] for line in path.read_text().splitlines()[1:]])
    assert np.array_equal(decoded.images.reshape(5, -1), naive)
    assert decoded.official is None
