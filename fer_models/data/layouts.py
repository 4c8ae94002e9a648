"""Where datasets are found and which on-disk layouts are accepted (TF-free)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from fer_models.errors import DatasetError

ACCEPTED_LAYOUTS = (
    "the challenge CSV fer2013.csv (columns emotion,pixels[,Usage]); "
    "Kaggle image folders train/<emotion>/*.jpg|png with optional test/<emotion>/ (val/<emotion>/ too), "
    "as a folder or a .zip, directly or inside fer2013/; "
    "or any folder (or .zip) of emotion-named subfolders such as angry/, happiness/, surprised/"
)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm", ".webp"})
SPLIT_FOLDERS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    # FER2013's PublicTest and PrivateTest are both test images (never model selection).
    "test": "test", "testing": "test", "publictest": "test", "privatetest": "test",
}
HOW_TO_GET = {
    "fer2013": "download FER2013 from Kaggle (https://www.kaggle.com/datasets/msambare/fer2013 or the "
    "challenge's fer2013.csv) and put the .zip, the train/ test/ folders or fer2013.csv in {data_dir} "
    "(directly or inside fer2013/), or run `ferbench preprocess --source PATH`",
    "synthetic": "built in: generated on first use",
}


@dataclass(frozen=True)
class SourceRef:
    """A located source: `kind` is "csv", "folder", "zip" or "synthetic"."""

    kind: str
    path: Path | None

    def describe(self) -> str:
        return "built-in generator" if self.path is None else f"{self.kind} {self.path}"


def _unknown(path: Path, why: str) -> DatasetError:
    return DatasetError(f"{why}: {path}. Accepted layouts: {ACCEPTED_LAYOUTS}")


def _has_images_below(folder: Path, depth: int = 3) -> bool:
    if depth < 0:
        return False
    try:
        children = list(folder.iterdir())
    except OSError:
        return False
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_file() and child.suffix.lower() in IMAGE_EXTENSIONS:
            return True
        if child.is_dir() and _has_images_below(child, depth - 1):
            return True
    return False


def detect_source(path: Path) -> SourceRef:
    """The layout of a user-given source path; DatasetError naming the path and the accepted layouts."""
    path = Path(path).expanduser()
    if not path.exists():
        raise _unknown(path, "dataset source not found")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return SourceRef("csv", path)
        if suffix == ".zip":
            if not zipfile.is_zipfile(path):
                raise _unknown(path, "not a readable zip archive")
            return SourceRef("zip", path)
        raise _unknown(path, f"unknown dataset format {suffix or '(no extension)'!r}")
    if not path.is_dir():
        raise _unknown(path, "not a file or folder")
    for csv_path in (path / "fer2013.csv", path / "fer2013" / "fer2013.csv"):
        if csv_path.is_file():
            return SourceRef("csv", csv_path)
    if _has_images_below(path):
        return SourceRef("folder", path)
    csvs = sorted(p for p in path.glob("*.csv") if p.is_file())
    zips = sorted(p for p in path.glob("*.zip") if p.is_file())
    if len(csvs) == 1 and not zips:
        return SourceRef("csv", csvs[0])
    if len(zips) == 1 and not csvs:
        return SourceRef("zip", zips[0])
    if not any(True for _ in path.iterdir()):
        raise _unknown(path, "empty dataset folder")
    raise _unknown(path, "no dataset layout recognised in folder")


def fer2013_candidates(data_dir: Path) -> list[Path]:
    """Where `fer2013` is looked for under the data folder, in order."""
    base = Path(data_dir)
    inner = base / "fer2013"
    candidates = [
        base / "fer2013.csv", inner / "fer2013.csv", inner / "fer2013" / "fer2013.csv",
        inner / "train", base / "train",
        base / "fer2013.zip", inner / "fer2013.zip", inner / "archive.zip", base / "archive.zip",
    ]
    return candidates


def locate(name: str, data_dir: Path) -> SourceRef | None:
    """The source of dataset `name` under `data_dir`, or None when it is not there."""
    if name == "synthetic":
        return SourceRef("synthetic", None)
    base = Path(data_dir)
    if name == "fer2013":
        for candidate in fer2013_candidates(base):
            if candidate.name == "train" and candidate.is_dir():
                return SourceRef("folder", candidate.parent)
            if candidate.is_file():
                return detect_source(candidate)
        inner = base / "fer2013"
        if inner.is_dir():
            zips = sorted(inner.glob("*.zip"))
            if len(zips) == 1:
                return SourceRef("zip", zips[0])
        return None
    folder, archive = base / name, base / f"{name}.zip"
    if folder.is_dir() and _has_images_below(folder):
        return SourceRef("folder", folder)
    if archive.is_file():
        return detect_source(archive)
    return None


def other_dataset_names(data_dir: Path) -> list[str]:
    """Folders (or .zip files) under the data folder that hold images, other than fer2013's places."""
    base = Path(data_dir)
    if not base.is_dir():
        return []
    reserved = {"fer2013", "train", "test", "val", "validation"}
    names = set()
    for child in base.iterdir():
        if child.name.startswith(".") or child.name.lower() in reserved:
            continue
        if child.is_dir() and _has_images_below(child):
            names.add(child.name)
        elif child.is_file() and child.suffix.lower() == ".zip" and child.stem.lower() not in {"fer2013", "archive"}:
            names.add(child.stem)
    return sorted(names - {"synthetic"})
