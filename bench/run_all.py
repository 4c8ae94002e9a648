"""`make bench`: the quick benchmarks one after another, each at a small size (minutes in all on 2 cores).

Each runs in its own process (`python -m bench.<name> <small arguments>`), so TensorFlow, servers and
temporary folders of one never reach the next; each prints its own figures and its baseline ratio.
`--full` runs them at their documented default sizes instead (up to an hour); `--only` picks some.
Left out: `cpu_recipe` (a 30-minute training; `python -m bench.cpu_recipe --minutes 1` is its smoke
run), `sweep_fer2013` (13 FER2013 trainings; `--images 700 --trials 3 --epochs 2` is its smoke run) and
`reliability` (it regenerates docs/reliability.md from the fault tests).

    python -m bench.run_all [--full] [--only bench_api bench_engine] [--dry-run]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT, fer2013_zip_path


@dataclass(frozen=True)
class Benchmark:
    name: str
    small: tuple[str, ...]  # arguments of a quick run
    needs_fer2013: bool = False


BENCHMARKS = (
    Benchmark("bench_api", ("--results", "1000", "--queries", "50", "--mlflow-repeats", "5", "--posts", "50",
                            "--burst", "50", "--backends", "sqlite")),
    Benchmark("bench_data", ("--images", "5000"), needs_fer2013=True),
    Benchmark("bench_engine", ("--models", "cnn-small", "--epochs", "2")),
    Benchmark("bench_dispatch", ("--samples", "5")),
    Benchmark("concurrency", ("--experiments", "10", "--clients", "2")),
    Benchmark("bench_ensemble", ("--repeats", "3")),
    Benchmark("bench_sweeps", ("--trials", "6", "--pairs", "3")),
    Benchmark("bench_dataset_travel", ("--images", "2000", "--repeats", "1"), needs_fer2013=True),
    Benchmark("bench_serving", ("--faces", "1400", "--batches", "5", "--rounds", "2", "--requests", "60")),
)


def fer2013_zip() -> Path | None:
    path = fer2013_zip_path()
    return path if path.is_file() else None


def command(bench: Benchmark, *, full: bool, zip_path: Path | None) -> list[str]:
    args = [] if full else list(bench.small)
    if bench.needs_fer2013:
        args += ["--zip", str(zip_path)]
    return [sys.executable, "-m", f"bench.{bench.name}", *args]


def run(bench: Benchmark, cmd: list[str]) -> int:
    print(f"\n=== {bench.name}: {' '.join(cmd[1:])}", flush=True)
    start = time.monotonic()
    code = subprocess.run(cmd, cwd=ROOT).returncode
    print(f"=== {bench.name}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each benchmark at its default size")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="only these benchmarks")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    zip_path = fer2013_zip()
    failed = []
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        if bench.needs_fer2013 and zip_path is None:
            print(f"\n=== {bench.name}: skipped, no FER2013 zip (set FERBENCH_FER2013_ZIP)", flush=True)
            continue
        cmd = command(bench, full=args.full, zip_path=zip_path)
        if args.dry_run:
            print(" ".join(cmd))
        elif run(bench, cmd) != 0:
            failed.append(bench.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
