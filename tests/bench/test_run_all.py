"""`make bench`: the module it runs exists and runs every quick benchmark at its small size."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_a_module_that_exists() -> None:
    target = re.search(r"^bench:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert target, "no bench target in the Makefile"
    module = re.search(r"-m (\S+)", target.group(1))
    assert module and importlib.util.find_spec(module.group(1)) is not None, target.group(1)


def test_dry_run_lists_each_quick_benchmark_with_its_small_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.run_all", "--dry-run"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = re.findall(r"-m (bench\.\w+)", done.stdout)
    assert {"bench.bench_api", "bench.bench_engine", "bench.bench_dispatch", "bench.concurrency"} <= set(modules)
    assert all(importlib.util.find_spec(m) is not None for m in modules)
    assert "--results 1000" in done.stdout and "--samples" in done.stdout


def test_the_small_fer2013_zip_keeps_every_class(tmp_path: Path) -> None:
    from bench.bench_data import subset_zip

    source = tmp_path / "full.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for emotion in ("angry", "happy", "sad"):
            archive.writestr(f"train/{emotion}/", "")
            for i in range(10):
                archive.writestr(f"train/{emotion}/{i}.jpg", b"x")
    small = subset_zip(source, 6, tmp_path / "small.zip")
    with zipfile.ZipFile(small) as archive:
        folders = [name.split("/")[-2] for name in archive.namelist() if not name.endswith("/")]
    assert sorted(folders) == ["angry", "angry", "happy", "happy", "sad", "sad"]
