"""A worker host's local copies of uploaded datasets' caches: fetched once by fingerprint, checksum-verified,
bounded in bytes (least recently used evicted first), safe for several worker processes on one host.

Files are `<root>/<fingerprint>.fbcache`. A fetch holds an exclusive `flock` on `<root>/.locks/<fingerprint>`,
so two workers asking for the same dataset at once download it once: the second waits, then finds the
file. A download lands in a private temporary file, is checked against the expected sha256, and only
then is renamed into place, so a crash leaves no file that looks complete. "Used" is the file's
modification time, refreshed on each use; eviction runs under `<root>/.locks/pool` (TF-free).
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fer_models.data.fingerprint import file_sha256
from fer_models.errors import DatasetError

log = logging.getLogger(__name__)
SUFFIX = ".fbcache"
Fetch = Callable[[Path], Path]  # download into this folder, return the file's path


@dataclass(frozen=True)
class PoolHit:
    path: Path
    downloaded: bool  # False: it was already here (or another process fetched it while we waited)
    seconds: float  # spent in this call: waiting, downloading, verifying


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class DatasetPool:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = Path(root), int(max_bytes)

    def path_of(self, fingerprint: str) -> Path:
        if not fingerprint.isalnum():
            raise DatasetError(f"invalid dataset fingerprint {fingerprint!r}: expected letters and digits")
        return self.root / f"{fingerprint}{SUFFIX}"

    def get(self, fingerprint: str, sha256: str, size: int, fetch: Fetch) -> PoolHit:
        """The local file of this fingerprint, fetched (once per host) when it is not here yet."""
        started = time.perf_counter()
        target = self.path_of(fingerprint)
        if self._fresh(target, size, sha256):
            return PoolHit(target, False, time.perf_counter() - started)
        with _locked(self.root / ".locks" / fingerprint):
            if self._fresh(target, size, sha256):  # another process fetched it while we waited for the lock
                return PoolHit(target, False, time.perf_counter() - started)
            self._make_room(size, keep=target)
            with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.root) as staging:
                fetched = fetch(Path(staging))
                actual = file_sha256(fetched)
                if actual != sha256:
                    raise DatasetError(f"the downloaded cache of dataset fingerprint {fingerprint} has sha256 "
                                       f"{actual}, not the registered {sha256}: the artifact store's copy is "
                                       "damaged; upload the dataset again")
                os.replace(fetched, target)
        log.info("dataset %s: fetched %.1f MB in %.2f s", fingerprint, size / 1e6, time.perf_counter() - started)
        return PoolHit(target, True, time.perf_counter() - started)

    def _fresh(self, target: Path, size: int, sha256: str) -> bool:
        """The file is here and intact. Hashing it again (a tenth of a second for FER2013) means a copy
        damaged on disk is fetched anew instead of failing every experiment on this host."""
        try:
            if target.stat().st_size != size:
                return False
            if file_sha256(target) != sha256:
                log.warning("%s does not match its checksum: fetching it again", target)
                return False
            os.utime(target)  # used now: the last to be evicted
            return True
        except FileNotFoundError:
            return False

    def _make_room(self, incoming: int, keep: Path) -> None:
        """Evict least recently used files until `incoming` more bytes fit (a file larger than the whole
        budget is still kept: a worker that could not train on it would be worse)."""
        with _locked(self.root / ".locks" / "pool"):
            files = []
            for path in self.root.glob(f"*{SUFFIX}"):
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                if path != keep:
                    files.append((stat.st_mtime_ns, stat.st_size, path))
            total = sum(size for _, size, _ in files)
            for _, size, path in sorted(files):
                if total + incoming <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
                log.info("dataset pool over %d bytes: evicted %s (least recently used)", self.max_bytes, path.name)

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob(f"*{SUFFIX}")) if self.root.is_dir() else 0

