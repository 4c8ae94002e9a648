"""bench_dataset_travel runs end to end on a small zip: the upload registers, a fresh worker home downloads once,
and the later experiment does not download (the script asserts both)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ferbench.testing.face_folders import write_face_folders

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.services
def test_the_benchmark_prints_its_ratio_against_the_local_decode(tmp_path: Path) -> None:
    root = write_face_folders(tmp_path / "faces", "train", n=140)
    archive = tmp_path / "small.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(root.rglob("*.png")):
            out.write(path, path.relative_to(root.parent).as_posix())
    done = subprocess.run([sys.executable, "-m", "bench.bench_dataset_travel", "--zip", str(archive), "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "140 images" in done.stdout
    assert re.search(r"first experiment: download \+ verify \+ cache \+ load: [\d.]+ s = [\d.]+x the local decode",
                     done.stdout), done.stdout
    assert "later experiment: no download" in done.stdout
