"""Decode the FER2013 challenge CSV (emotion,pixels[,Usage]) into 48x48 uint8 arrays.

Rows are checked with C-speed bytes operations, then a whole block of pixel columns is parsed by
numpy in one call: no per-row str.split, which is what makes the naive reader slow.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fer_models.data.dataset import PART_NONE, PART_PRIVATE, PART_PUBLIC, SPLIT_TEST, DecodeNotes
from fer_models.data.image_reader import IMAGE_SIZE, KEEP_NAMES, Decoded
from fer_models.data.labels import NUM_CLASSES
from fer_models.data.splits import UNASSIGNED, kept_test_part
from fer_models.errors import DatasetError

log = logging.getLogger(__name__)

PIXELS = IMAGE_SIZE * IMAGE_SIZE
# Usage -> (official split, test part): PublicTest and PrivateTest are both test images (neither selects the
# model); validation is carved from the Training rows. The part lets metrics be reported on each.
USAGE_CODES = {"training": (UNASSIGNED, PART_NONE), "publictest": (SPLIT_TEST, PART_PUBLIC),
               "privatetest": (SPLIT_TEST, PART_PRIVATE)}
_BLOCK = 4096
_NOT_PIXEL_CHARS = b"0123456789 "
Progress = Callable[[int, int], None]


class _BadRow(Exception):
    pass


def _parse_row(fields: list[str], cols: tuple[int, int, int | None]) -> tuple[int, str, tuple[int, int]]:
    emotion_col, pixels_col, usage_col = cols
    raw_label = fields[emotion_col].strip().strip('"')
    if not raw_label.isdigit() or int(raw_label) >= NUM_CLASSES:
        raise _BadRow(f"emotion {raw_label!r} is not a label 0..{NUM_CLASSES - 1}")
    pixels = fields[pixels_col].strip().strip('"').strip()
    usage = (UNASSIGNED, PART_NONE)
    if usage_col is not None:
        raw_usage = fields[usage_col].strip().strip('"')
        if raw_usage.lower() not in USAGE_CODES:
            raise _BadRow(f"Usage {raw_usage!r} is not one of Training, PublicTest, PrivateTest")
        usage = USAGE_CODES[raw_usage.lower()]
    return int(raw_label), pixels, usage


def _check_pixels(pixels: str) -> str:
    """The row's pixel string with single spaces, or _BadRow saying what is wrong with it."""
    encoded = pixels.encode("ascii", "replace")
    if encoded.translate(None, _NOT_PIXEL_CHARS):
        bad = next(tok for tok in pixels.split() if tok.encode("ascii", "replace").translate(None, _NOT_PIXEL_CHARS))
        raise _BadRow(f"non-numeric pixel value {bad[:20]!r}")
    tokens = pixels.split()
    if len(tokens) != PIXELS:
        raise _BadRow(f"{len(tokens)} pixel values, expected {PIXELS} (48x48)")
    return " ".join(tokens)


def _block_is_clean(rows: list[str]) -> bool:
    """One C-speed pass over a whole block: digits and single spaces only, 2304 values per row."""
    joined = " ".join(rows).encode("ascii", "replace")
    return (not joined.translate(None, _NOT_PIXEL_CHARS) and b"  " not in joined
            and all(rows) and joined.count(b" ") == len(rows) * PIXELS - 1)


def _parse_pixels(rows: list[str]) -> np.ndarray:
    """int32 (len(rows), 2304) from pixel strings already checked to hold 2304 integers each."""
    values = np.fromstring(" ".join(rows), dtype=np.int32, sep=" ")  # noqa: NPY201 - the fast text path
    return values.reshape(len(rows), PIXELS)


def decode_csv(path: Path, *, skip_bad: bool = False, progress: Progress | None = None) -> Decoded:
    """Decode a challenge-format CSV; a bad row is an error with its line number, or skipped with skip_bad."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise DatasetError(f"cannot read CSV {path}: {exc}") from exc
    lines = text.split("\n")
    del text
    header = [h.strip().strip('"').lower() for h in lines[0].split(",")] if lines else []
    if "pixels" not in header or "emotion" not in header:
        raise DatasetError(f"{path} line 1: header {lines[0][:80]!r} lacks the emotion and pixels columns; "
                           "accepted: the FER2013 challenge CSV with columns emotion,pixels[,Usage]")
    cols = (header.index("emotion"), header.index("pixels"), header.index("usage") if "usage" in header else None)
    n_fields = len(header)
    total = len(lines) - 1
    labels: list[np.ndarray] = []
    official: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    skipped: list[int] = []
    parts: list[np.ndarray] = []
    pending: list[tuple[int, int, tuple[int, int], str]] = []  # (line, label, (official, test part), pixels)

    def flush() -> None:
        if pending and not _block_is_clean([row[3] for row in pending]):
            # Slow path, only for a block with a bad row: find it by line number (or drop it).
            good = []
            for row in pending:
                try:
                    good.append((*row[:3], _check_pixels(row[3])))
                except _BadRow as exc:
                    if not skip_bad:
                        raise DatasetError(f"{path} line {row[0]}: {exc}; accepted rows: emotion (0..6), "
                                           "pixels (2304 space-separated values 0..255), Usage "
                                           "(Training/PublicTest/PrivateTest). Use --skip-bad to skip bad rows"
                                           ) from None
                    skipped.append(row[0])
            pending[:] = good
        if pending:
            values = _parse_pixels([row[3] for row in pending])
            too_big = values.max(axis=1) > 255
            if too_big.any():
                bad_lines = [pending[i][0] for i in np.flatnonzero(too_big)]
                if not skip_bad:
                    raise DatasetError(f"{path} line {bad_lines[0]}: a pixel value is above 255; accepted: "
                                       "2304 space-separated values 0..255. Use --skip-bad to skip bad rows")
                skipped.extend(bad_lines)
            keep = ~too_big
            blocks.append(values[keep].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE))
            labels.append(np.array([row[1] for row in pending], dtype=np.int64)[keep])
            usage = np.array([row[2] for row in pending], dtype=np.int8).reshape(-1, 2)[keep]
            official.append(usage[:, 0])
            parts.append(usage[:, 1])
            pending.clear()
        if progress:
            progress(min(line_number, total), total)

    line_number = 1
    if progress:
        progress(0, total)
    for line_number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            if len(fields) != n_fields:
                raise _BadRow(f"{len(fields)} comma-separated fields, expected {n_fields} ({','.join(header)})")
            label, pixels, usage = _parse_row(fields, cols)
        except _BadRow as exc:
            if not skip_bad:
                raise DatasetError(f"{path} line {line_number}: {exc}; accepted rows: emotion (0..6), "
                                   "pixels (2304 space-separated values 0..255), Usage "
                                   "(Training/PublicTest/PrivateTest). Use --skip-bad to skip bad rows") from None
            skipped.append(line_number)
            continue
        pending.append((line_number, label, usage, pixels))
        if len(pending) >= _BLOCK:
            flush()
    flush()
    n_rows = sum(block.shape[0] for block in blocks)
    if n_rows == 0:
        raise DatasetError(f"{path} has no usable data rows; accepted: the FER2013 challenge CSV "
                           "(emotion,pixels[,Usage])")
    skipped.sort()
    if skipped:
        message = f"skipped {len(skipped)} bad rows of {path} (first lines: {skipped[:5]})"
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning(message)
    images = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    official_arr = np.concatenate(official)
    notes = DecodeNotes(source=str(path), layout="csv: fer2013 challenge", skipped_rows=tuple(skipped[:KEEP_NAMES]),
                        n_skipped_rows=len(skipped))
    return Decoded(images, np.concatenate(labels),
                   official_arr if np.any(official_arr != UNASSIGNED) else None, notes,
                   test_part=kept_test_part(np.concatenate(parts)))
