"""The host's pool of uploaded datasets' caches: fetched once per host, verified, bounded, least recently used first."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import pytest

from fer_models.data.pool import DatasetPool
from fer_models.errors import DatasetError


def blob(folder: Path, name: str, size: int) -> tuple[Path, str]:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def copying(source: Path, log: Path | None = None, delay: float = 0.0):  # type: ignore[no-untyped-def]
    """A fetch that copies `source` (as a download would write it), noting each call in `log`."""
    def fetch(into: Path) -> Path:
        if log is not None:
            with open(log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
        time.sleep(delay)
        return Path(shutil.copy(source, into / "downloaded.fbcache"))

    return fetch


def test_fetched_once_then_served_from_the_pool(tmp_path: Path) -> None:
    source, digest = blob(tmp_path / "store", "a", 5000)
    pool, calls = DatasetPool(tmp_path / "pool", 10**6), tmp_path / "calls"
    first = pool.get("aaaa", digest, 5000, copying(source, calls))
    again = pool.get("aaaa", digest, 5000, copying(source, calls))
    assert first.downloaded and not again.downloaded and first.path == again.path
    assert first.path.read_bytes() == source.read_bytes()
    assert len(calls.read_text().splitlines()) == 1


def test_a_copy_damaged_on_disk_is_fetched_again(tmp_path: Path) -> None:
    source, digest = blob(tmp_path / "store", "a", 5000)
    pool = DatasetPool(tmp_path / "pool", 10**6)
    path = pool.get("aaaa", digest, 5000, copying(source)).path
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))
    again = pool.get("aaaa", digest, 5000, copying(source))
    assert again.downloaded and again.path.read_bytes() == source.read_bytes()


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(tmp_path: Path) -> None:
    source, _ = blob(tmp_path / "store", "a", 5000)
    pool = DatasetPool(tmp_path / "pool", 10**6)
    with pytest.raises(DatasetError, match="sha256"):
        pool.get("aaaa", "0" * 64, 5000, copying(source))
    assert not list((tmp_path / "pool").glob("*.fbcache")) and not list((tmp_path / "pool").glob(".fetch-*"))


def test_least_recently_used_is_evicted_to_stay_within_the_budget(tmp_path: Path) -> None:
    pool = DatasetPool(tmp_path / "pool", 2500)
    stored = {name: blob(tmp_path / "store", name, 1000) for name in ("aa", "bb")}
    for name, (source, digest) in stored.items():
        assert pool.get(name, digest, 1000, copying(source)).downloaded
        time.sleep(0.02)
    assert not pool.get("aa", stored["aa"][1], 1000, copying(stored["aa"][0])).downloaded  # used again: "bb" is older
    source, digest = blob(tmp_path / "store", "cc", 1000)
    pool.get("cc", digest, 1000, copying(source))
    assert sorted(p.stem for p in (tmp_path / "pool").glob("*.fbcache")) == ["aa", "cc"]
    assert pool.used_bytes() <= 2500


def _get_in_process(root: str, source: str, digest: str, calls: str) -> None:
    DatasetPool(Path(root), 10**6).get("ffff", digest, 200_000, copying(Path(source), Path(calls), delay=0.5))


def test_two_processes_on_one_host_download_once(tmp_path: Path) -> None:
    source, digest = blob(tmp_path / "store", "f", 200_000)
    calls = tmp_path / "calls"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_get_in_process, args=(str(tmp_path / "pool"), str(source), digest, str(calls)))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert len(calls.read_text().splitlines()) == 1
    assert (tmp_path / "pool" / "ffff.fbcache").read_bytes() == source.read_bytes()


def test_fingerprints_cannot_name_paths_outside_the_pool(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="fingerprint"):
        DatasetPool(tmp_path, 100).path_of("../x")
