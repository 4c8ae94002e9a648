"""`ferbench datasets upload FOLDER` packs the folder as a zip that decodes like the folder itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_models.data.catalog import load_dataset
from fer_models.errors import DatasetError
from ferbench.dataset_pack import pack_folder
from ferbench.testing.face_folders import write_face_folders


def test_a_kaggle_style_folder_packs_into_a_zip_with_the_same_images_and_split(tmp_path: Path) -> None:
    write_face_folders(tmp_path / "set", "train", n=140)
    write_face_folders(tmp_path / "set", "test", n=70, seed=1)
    (tmp_path / "set" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "set" / "notes.txt").write_text("left out")
    packed = pack_folder(tmp_path / "set", tmp_path)
    from_zip = load_dataset("z", data_dir=tmp_path / "none", cache_dir=tmp_path / "c1", source=packed)
    from_folder = load_dataset("f", data_dir=tmp_path / "none", cache_dir=tmp_path / "c2", source=tmp_path / "set")
    assert from_zip.split_sizes() == from_folder.split_sizes() == {"train": 126, "val": 14, "test": 70}
    assert from_zip.protocol == "official"
    assert (from_zip.images == from_folder.images).all()


def test_a_folder_without_images_says_what_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "empty" / "angry").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images or CSV files in .*empty.*accepted"):
        pack_folder(tmp_path / "empty", tmp_path)
