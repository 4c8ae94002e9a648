"""A sweep's overhead between trials: from a trial's end to the next trial's claim, on the real service.

Starts the local stack (`ferbench up`'s launcher: SQLite, private Redis, MLflow server, one worker with the
documented command line, the API) in a temporary state folder with a small face-folder dataset, then runs a
sweep of N 1-epoch cnn-small trials one at a time (`parallel` 1, no pruner). For each trial after the first:
its experiment's claim (`started_at`) minus the previous trial's end (`finished_at`), split into the
sweep's own work (the previous end to the next trial's row, `created_at`: the study told, the trial ended,
the next one asked for and queued) and the hand-off (`created_at` to the claim: the broker and the pool).

The baseline, measured in the same run on the same worker: the same gap between two ordinary experiments
queued back to back (the first's end to the second's claim), which every queue of experiments pays with
no sweep at all. Target (issue 14): the sweep's gap <= 0.5 s at p95.

    python -m bench.bench_sweeps --trials 12 --pairs 6
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_dispatch import p95, parse_time
from ferbench.settings import Settings
from ferbench.stack import Stack

TARGET_P95_S = 0.5
DATASET = "faces"
BASE = {"model": "cnn-small", "dataset": DATASET, "epochs": 1, "batch_size": 32}
FINISHED = ("succeeded", "failed", "cancelled", "pruned")


def wait_for(client: httpx.Client, path: str, done: Any, timeout_s: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not done(body := client.get(path).json()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not done within {timeout_s} s: {body}")
        time.sleep(0.2)
    return body


def experiment(client: httpx.Client, experiment_id: str) -> dict[str, Any]:
    return client.get(f"/experiments/{experiment_id}").json()


def sweep_gaps(client: httpx.Client, trials: int) -> list[tuple[float, float, float]]:
    """(claim - previous end, sweep's own work, hand-off) in seconds, for each trial after the first."""
    body = {"base": BASE, "space": {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2}},
            "n_trials": trials, "parallel": 1, "sampler": "random", "pruner": "none"}
    created = client.post("/sweeps", json=body)
    created.raise_for_status()
    final = wait_for(client, f"/sweeps/{created.json()['id']}", lambda b: b["status"] != "running")
    if final["status"] != "succeeded":
        raise RuntimeError(f"the sweep ended {final['status']}: {final.get('error')}")
    rows = [experiment(client, t["experiments"][0]["id"]) for t in final["trials"]]
    gaps = []
    for previous, current in zip(rows, rows[1:]):
        ended, made, claimed = (parse_time(previous["finished_at"]), parse_time(current["created_at"]),
                                parse_time(current["started_at"]))
        gaps.append((claimed - ended, made - ended, claimed - made))
    return gaps


def plain_gap(client: httpx.Client, seed: int) -> float:
    """Two ordinary experiments queued back to back: the second's claim minus the first's end, in seconds."""
    ids = []
    for k in range(2):
        answer = client.post("/experiments", json={**BASE, "seed": seed + k})
        answer.raise_for_status()
        body = answer.json()
        ids.append((body[0] if isinstance(body, list) else body)["id"])
    rows = [wait_for(client, f"/experiments/{i}", lambda b: b["status"] in FINISHED) for i in ids]
    return parse_time(rows[1]["started_at"]) - parse_time(rows[0]["finished_at"])


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(values), 3), "p95_s": round(p95(values), 3), "max_s": round(max(values), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="trials of the sweep (gaps: one fewer)")
    parser.add_argument("--pairs", type=int, default=6, help="pairs of ordinary experiments for the baseline")
    parser.add_argument("--faces", type=int, default=280, help="images of the face-folder dataset")
    parser.add_argument("--logs", type=Path, default=None, help="keep the stack's logs (worker, API) in this folder")
    args = parser.parse_args()

    from ferbench.services.ports import free_port
    from ferbench.testing.face_folders import write_face_folders

    with tempfile.TemporaryDirectory(prefix="ferbench-bench-") as home:
        settings = Settings(home=Path(home), data_dir=Path(home) / "data", api_port=free_port(), mlflow_port=free_port())
        write_face_folders(settings.data_dir, DATASET, n=args.faces)
        with Stack(settings) as stack:
            assert stack.urls is not None
            with httpx.Client(base_url=stack.urls.api, timeout=30) as client:
                plain_gap(client, seed=100)  # warm-up: the dataset cache, connections, MLflow's experiment
                baseline = [plain_gap(client, seed=2 * k) for k in range(args.pairs)]
                gaps = sweep_gaps(client, args.trials)
        if args.logs:
            shutil.copytree(Path(home) / "logs", args.logs, dirs_exist_ok=True)
    total = [g[0] for g in gaps]
    report = {
        "trials": args.trials, "gaps": len(gaps), "baseline_pairs": args.pairs,
        "sweep_gap": summary(total),
        "sweep_own_work": summary([g[1] for g in gaps]),
        "hand_off": summary([g[2] for g in gaps]),
        "baseline_plain_gap": summary(baseline),
        "ratio_p95_to_baseline": round(p95(total) / p95(baseline), 3),
        "ratio_p95_to_target": round(p95(total) / TARGET_P95_S, 3),
        "target_p95_s": TARGET_P95_S,
        "meets_target": p95(total) <= TARGET_P95_S,
    }
    print(json.dumps(report, indent=2))
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
