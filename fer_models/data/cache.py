"""One cache file per dataset: raw arrays behind a checksummed header, written atomically.

Layout: 16-byte magic, header length (u64), header CRC32 (u32), 4 pad bytes, the JSON header, then
the arrays back to back. Loading reads the file once into one buffer and hands out numpy views of
it, so memory is the raw size and the whole FER2013 cache loads in a fraction of a second; a CRC32
over the payload catches truncated or corrupt files, which are rebuilt and never trusted.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"FERBENCH-CACHE\x00\x01"
# 2: FER2013's PublicTest rows are test images (were validation) and a `test_part` array marks public/private.
CACHE_VERSION = 2
SUFFIX = ".fbcache"
_PREFIX = struct.Struct("<16sQI4x")


class CacheCorrupt(Exception):
    """The file is not a complete cache written by this version: rebuild it."""


@dataclass(frozen=True)
class CacheContent:
    arrays: dict[str, np.ndarray]
    meta: dict


def cache_path(cache_dir: Path, name: str, source_fingerprint: str) -> Path:
    return Path(cache_dir) / f"{name}-{source_fingerprint[:16]}{SUFFIX}"


def caches_of(cache_dir: Path, name: str) -> list[Path]:
    """Cache files of dataset `name`, newest first."""
    folder = Path(cache_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{name}-*{SUFFIX}") if p.name[len(name) + 1:-len(SUFFIX)].isalnum()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def _crc(buffers: list[memoryview]) -> int:
    crc = 0
    for buffer in buffers:
        crc = zlib.crc32(buffer, crc)
    return crc


def write_cache(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write atomically: a temp file in the same folder, fsync'd, then os.replace over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries, buffers, offset = [], [], 0
    for key, array in arrays.items():
        contiguous = np.ascontiguousarray(array)
        view = memoryview(contiguous).cast("B")
        entries.append({"name": key, "dtype": contiguous.dtype.str, "shape": list(contiguous.shape),
                        "offset": offset, "nbytes": contiguous.nbytes})
        buffers.append(view)
        offset += contiguous.nbytes
    header = json.dumps({"version": CACHE_VERSION, "meta": meta, "arrays": entries, "payload_nbytes": offset,
                         "payload_crc32": _crc(buffers)}).encode()
    prefix = _PREFIX.pack(MAGIC, len(header), zlib.crc32(header))
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(prefix)
            handle.write(header)
            for buffer in buffers:
                handle.write(buffer)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # a normal file, not mkstemp's private 0600
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _read_header(handle: BinaryIO) -> tuple[dict, int]:
    """The checked JSON header and its length; the handle is left at the payload's start."""
    raw_prefix = handle.read(_PREFIX.size)
    if len(raw_prefix) != _PREFIX.size:
        raise CacheCorrupt("shorter than its header")
    magic, header_len, header_crc = _PREFIX.unpack(raw_prefix)
    if magic != MAGIC:
        raise CacheCorrupt("not a FER Bench cache of this version")
    if header_len > 1 << 24:
        raise CacheCorrupt("header length out of range")
    header_bytes = handle.read(header_len)
    if len(header_bytes) != header_len or zlib.crc32(header_bytes) != header_crc:
        raise CacheCorrupt("header truncated or corrupt")
    header = json.loads(header_bytes)
    if not isinstance(header, dict) or header.get("version") != CACHE_VERSION:
        version = header.get("version") if isinstance(header, dict) else None
        raise CacheCorrupt(f"cache version {version} is not {CACHE_VERSION}")
    return header, header_len


def read_cache(path: Path) -> CacheContent:
    """Arrays (views of one buffer) and metadata; CacheCorrupt when anything does not add up."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header, _ = _read_header(handle)
            size = int(header["payload_nbytes"])
            payload = bytearray(size)
            if handle.readinto(payload) != size or handle.read(1):
                raise CacheCorrupt("payload truncated or has trailing bytes")
    except OSError as exc:
        raise CacheCorrupt(f"unreadable: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheCorrupt(f"malformed header: {exc}") from exc
    if zlib.crc32(payload) != header["payload_crc32"]:
        raise CacheCorrupt("payload checksum mismatch")
    arrays = {}
    try:
        for entry in header["arrays"]:
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"], dtype=np.int64))
            arrays[entry["name"]] = np.frombuffer(payload, dtype=dtype, count=count,
                                                  offset=int(entry["offset"])).reshape(entry["shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheCorrupt(f"array table does not match the payload: {exc}") from exc
    return CacheContent(arrays, header["meta"])


def read_cache_meta(path: Path) -> dict:
    """Only the header's metadata (for listings): no payload read, CacheCorrupt on a bad header or size."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header, header_len = _read_header(handle)
        if path.stat().st_size != _PREFIX.size + header_len + int(header["payload_nbytes"]):
            raise CacheCorrupt("file size does not match its header")
        return header["meta"]
    except OSError as exc:
        raise CacheCorrupt(f"unreadable: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheCorrupt(f"malformed header: {exc}") from exc
