"""Packing a dataset folder as a zip for upload (shell side: `ferbench datasets upload FOLDER`)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from fer_models.data.layouts import IMAGE_EXTENSIONS
from fer_models.errors import DatasetError


def pack_folder(folder: Path, into: Path) -> Path:
    """`into/<folder name>.zip` holding the folder's images and CSVs under `<folder name>/`, stored uncompressed:
    images are compressed already, and a stored member decodes without inflating."""
    folder = Path(folder)
    archive_path = Path(into) / f"{folder.name}.zip"
    count = 0
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for directory, subdirs, files in os.walk(folder):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for file in sorted(files):
                path = Path(directory) / file
                if file.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS | {".csv"}:
                    continue
                archive.write(path, (Path(folder.name) / path.relative_to(folder)).as_posix())
                count += 1
    if count == 0:
        raise DatasetError(f"no images or CSV files in {folder}; accepted: a folder of emotion-named subfolders, "
                           "Kaggle's train/ and test/ folders, a .zip or a .csv")
    return archive_path
