"""Decode class-folder image trees, from a folder or straight from a .zip, into 48x48 gray arrays.

Decoding runs on a thread pool: Pillow releases the GIL while decoding, and each worker opens its own
zip handle, so chunks proceed side by side without unpacking anything to disk.
"""

from __future__ import annotations

import io
import logging
import os
import mmap
import re
import struct
import threading
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from fer_models.data.dataset import PART_NONE, PART_PRIVATE, PART_PUBLIC, SPLIT_TEST, SPLIT_VAL, DecodeNotes
from fer_models.data.labels import accepted_folder_names, is_known_other_class, label_for_folder
from fer_models.data.layouts import ACCEPTED_LAYOUTS, IMAGE_EXTENSIONS, SPLIT_FOLDERS
from fer_models.data.splits import UNASSIGNED, kept_test_part
from fer_models.errors import DatasetError

log = logging.getLogger(__name__)

IMAGE_SIZE = 48
MAX_BAD_FRACTION = 0.01
KEEP_NAMES = 20  # bad files named in notes and errors
_SPLIT_CODES = {"train": UNASSIGNED, "val": SPLIT_VAL, "test": SPLIT_TEST}
_TEST_PART_FOLDERS = {"publictest": PART_PUBLIC, "privatetest": PART_PRIVATE}
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Decoded:
    images: np.ndarray  # uint8 (N, 48, 48)
    labels: np.ndarray  # int64 (N,)
    official: np.ndarray | None  # int8 (N,): official split, UNASSIGNED where the source gives none
    notes: DecodeNotes
    test_part: np.ndarray | None = None  # int8 (N,): PART_PUBLIC/PART_PRIVATE, only when the test set has both


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _image_paths_in_folder(root: Path) -> list[str]:
    paths = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__MACOSX"]
        rel = Path(directory).relative_to(root)
        for file in files:
            if not file.startswith(".") and Path(file).suffix.lower() in IMAGE_EXTENSIONS:
                paths.append((rel / file).as_posix())
    return paths


def _image_paths_in_zip(infos: list[zipfile.ZipInfo]) -> list[str]:
    paths = []
    for info in infos:
        parts = [p for p in info.filename.split("/") if p]
        if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        if os.path.splitext(parts[-1])[1].lower() in IMAGE_EXTENSIONS:
            paths.append(info.filename)
    return paths


@dataclass(frozen=True)
class _Entry:
    path: str  # inside the folder or zip
    label: int
    official: int
    test_part: int = PART_NONE


def _classify(paths: list[str], where: Path) -> tuple[list[_Entry], dict[str, int], str]:
    """Entries with labels from their class folder; dropped non-FER classes; the layout name."""
    if not paths:
        raise DatasetError(f"no images found in {where}. Accepted layouts: {ACCEPTED_LAYOUTS}")
    split_paths = [tuple(part for part in p.split("/") if part) for p in paths]
    prefix = 0
    # Strip wrapping folders (e.g. fer2013/) that every image shares, down to split or class folders.
    while True:
        heads = {parts[prefix] for parts in split_paths if len(parts) > prefix}
        deep = all(len(parts) >= prefix + 3 for parts in split_paths)
        if len(heads) == 1 and deep and next(iter(heads)).lower() not in SPLIT_FOLDERS:
            prefix += 1
        else:
            break
    tops = {parts[prefix].lower() for parts in split_paths}
    with_splits = bool(tops & set(SPLIT_FOLDERS))
    if with_splits and not tops <= set(SPLIT_FOLDERS):
        others = sorted(tops - set(SPLIT_FOLDERS))
        raise DatasetError(f"{where} mixes split folders (train/, test/) with other folders {others}. "
                           f"Accepted layouts: {ACCEPTED_LAYOUTS}")
    class_at = prefix + 1 if with_splits else prefix
    entries: list[_Entry] = []
    dropped: Counter[str] = Counter()
    unknown: set[str] = set()
    for path, parts in zip(paths, split_paths):
        if len(parts) < class_at + 2:
            raise DatasetError(f"image {path} in {where} is not inside a class folder. "
                               f"Accepted layouts: {ACCEPTED_LAYOUTS}")
        folder = parts[class_at]
        label = label_for_folder(folder)
        if label is None:
            if is_known_other_class(folder):
                dropped[folder] += 1
            else:
                unknown.add(folder)
            continue
        official = _SPLIT_CODES[SPLIT_FOLDERS[parts[prefix].lower()]] if with_splits else UNASSIGNED
        part = _TEST_PART_FOLDERS.get(parts[prefix].lower(), PART_NONE) if with_splits else PART_NONE
        entries.append(_Entry(path, label, official, part))
    if unknown:
        raise DatasetError(f"unknown class folder(s) {sorted(unknown)} in {where}; accepted folder names "
                           f"(case-insensitive): {accepted_folder_names()}")
    if not entries:
        raise DatasetError(f"no images of the 7 FER classes in {where} (dropped: {dict(dropped)}); "
                           f"accepted folder names: {accepted_folder_names()}")
    # Canonical order, the same for a folder and its zip: split, class, natural file order.
    order_of = {UNASSIGNED: 0, SPLIT_VAL: 1, SPLIT_TEST: 2}
    entries.sort(key=lambda e: (order_of[e.official], e.label, _natural_key(e.path.split("/")[-1]), e.path))
    layout = "split folders" if with_splits else "class folders"
    return entries, dict(dropped), layout


def to_gray48(image: Image.Image) -> np.ndarray:
    """Any size and colour mode -> 48x48 uint8 gray; non-square images are centre-cropped first."""
    if image.mode == "L" and image.size == (IMAGE_SIZE, IMAGE_SIZE):
        # FER2013's own case: no conversion, one copy straight into the array.
        return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)
    if image.format == "JPEG" and (image.width > 2 * IMAGE_SIZE or image.height > 2 * IMAGE_SIZE):
        image.draft("L", (IMAGE_SIZE, IMAGE_SIZE))  # decode big JPEGs at reduced scale: far less work
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    gray = image.convert("L")
    if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
        side = min(gray.size)
        left, top = (gray.width - side) // 2, (gray.height - side) // 2
        gray = gray.crop((left, top, left + side, top + side))
        gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(gray, dtype=np.uint8)


def _decode_one(read: Callable[[str], bytes], path: str) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(read(path))) as image:
            return to_gray48(image)
    except (OSError, UnidentifiedImageError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def _decode_chunk(reader: Callable[[], Callable[[str], bytes]], entries: list[_Entry], out: np.ndarray,
                  ok: np.ndarray, start: int) -> int:
    read = reader()
    for offset, entry in enumerate(entries):
        pixels = _decode_one(read, entry.path)
        if pixels is not None:
            out[start + offset] = pixels
            ok[start + offset] = True
    return len(entries)


def _small_images(entries: list[_Entry], reader: Callable[[], Callable[[str], bytes]]) -> bool:
    sample = entries[:: max(1, len(entries) // 8)][:8]
    read = reader()
    return all(len(read(e.path)) < 16_384 for e in sample)


def decode_tree(path: Path, kind: str, *, progress: Progress | None = None,
                workers: int | None = None) -> Decoded:
    """Decode a class-folder tree (`kind` "folder") or a zip of one (`kind` "zip")."""
    path = Path(path)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
            paths = _image_paths_in_zip(members)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DatasetError(f"cannot read zip archive {path}: {exc}. Accepted layouts: {ACCEPTED_LAYOUTS}") from exc

        # Stored (uncompressed) members, as in the Kaggle FER2013 zip, are sliced straight out of a
        # memory map: no per-member ZipExtFile, which costs as much as decoding a 48x48 JPEG.
        # Compressed members go through zipfile, one handle per worker thread (opening one parses
        # the whole central directory, too slow to repeat per chunk).
        local = threading.local()
        handles: list[Any] = []
        with open(path, "rb") as raw_file:
            mapped = mmap.mmap(raw_file.fileno(), 0, access=mmap.ACCESS_READ)
        handles.append(mapped)
        infos = {info.filename: info for info in members}

        def read_member(name: str) -> bytes:
            info = infos[name]
            offset = info.header_offset
            if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
                header = mapped[offset:offset + 30]
                if len(header) == 30 and header[:4] == b"PK\x03\x04":
                    name_len, extra_len = struct.unpack("<HH", header[26:30])
                    start = offset + 30 + name_len + extra_len
                    data = mapped[start:start + info.compress_size]
                    if len(data) == info.compress_size:
                        return data
            if not hasattr(local, "archive"):
                local.archive = zipfile.ZipFile(path)
                handles.append(local.archive)
            return local.archive.read(name)

        def reader() -> Callable[[str], bytes]:
            return read_member
    else:
        paths = _image_paths_in_folder(path)
        handles = []

        def reader() -> Callable[[str], bytes]:
            return lambda rel: (path / rel).read_bytes()

    entries, dropped, layout = _classify(paths, path)
    for folder, count in dropped.items():
        message = f"dropped {count} images of class {folder!r} (not one of the 7 FER classes) from {path}"
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning(message)
    n = len(entries)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    # At 48x48 most of the time per file is Pillow's Python-level header parsing, which holds the
    # GIL: measured on FER2013, 2 threads are slower than 1. Threads pay off for big images (where
    # the C decoder, which releases the GIL, dominates), so the pool widens only for those.
    workers = workers or (1 if _small_images(entries, reader) else min(4, os.cpu_count() or 1))
    chunk = max(64, min(1024, n // (workers * 4) + 1))
    done = 0
    if progress:
        progress(0, n)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ferbench-decode") as pool:
            futures = [pool.submit(_decode_chunk, reader, entries[s:s + chunk], images, ok, s)
                       for s in range(0, n, chunk)]
            for future in futures:
                done += future.result()
                if progress:
                    progress(done, n)
    finally:
        for handle in handles:
            handle.close()
    bad = [entries[i].path for i in np.flatnonzero(~ok)]
    if bad and len(bad) > MAX_BAD_FRACTION * n:
        raise DatasetError(f"{len(bad)} of {n} images in {path} are unreadable or corrupt (more than "
                           f"{MAX_BAD_FRACTION:.0%}); first ones: {', '.join(bad[:KEEP_NAMES])}")
    if bad:
        message = f"skipped {len(bad)} unreadable or corrupt images in {path}: {', '.join(bad[:5])}"
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning(message)
    labels = np.array([e.label for e in entries], dtype=np.int64)[ok]
    official_all = np.array([e.official for e in entries], dtype=np.int8)[ok]
    official = official_all if np.any(official_all != UNASSIGNED) else None
    test_part = kept_test_part(np.array([e.test_part for e in entries], dtype=np.int8)[ok])
    notes = DecodeNotes(source=str(path), layout=f"{kind}: {layout}", bad_files=tuple(bad[:KEEP_NAMES]),
                        n_bad=len(bad), dropped_classes=dropped)
    kept = images if ok.all() else np.ascontiguousarray(images[ok])
    return Decoded(kept, labels, official, notes, test_part=test_part)

