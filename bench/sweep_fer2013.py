"""A 12-trial TPE sweep of cnn-small on FER2013 with the median pruner, against the model's defaults.

The sweep searches learning rate, weight decay and width (`hp.filters`) with 3-epoch trials. It runs
through the service's own code: the sweep is checked as POST /sweeps checks it and started on a
SQLite database in the work folder, and every trial is claimed, trained, reported to the study and
followed by the sweep's next trial by the worker's task body (`worker.execution.execute_experiment`),
one trial at a time in this process (the 2-core machine runs one training at a time anyway). MLflow
logs to a sqlite store in the work folder. Then the model's default settings run once with the same
budget (3 epochs, same seed and split) through the same task body.

Prints two figures against their targets, and one JSON line with every trial:
- pruned trials' cost over a full trial's (means of CPU seconds of the task body, and of wall seconds from claim to
  end): target < 0.5;
- the best trial's validation accuracy over the defaults' (the last epoch's, as the sweep's objective): target > 1.

    nice -n 10 python -m bench.sweep_fer2013 --zip ../shared/datasets/fer2013-train.zip
    nice -n 10 python -m bench.sweep_fer2013 --images 8000     # a stratified sample of the training zip

The CLI equivalent on a running service (after `ferbench preprocess --dataset fer2013 --source <zip>`):

    ferbench sweep --model cnn-small --dataset fer2013 --epochs 3 --trials 12 --sampler tpe --pruner median \\
        --space learning_rate=log:1e-4..1e-2 --space weight_decay=log:1e-6..1e-2 --space hp.filters=choice:16,32,64
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench import DEFAULT_ZIP, fer2013_zip_path  # noqa: E402

SPACE = {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
         "weight_decay": {"kind": "log", "low": 1e-6, "high": 1e-2},
         "hp.filters": {"kind": "choice", "values": [16, 32, 64]}}
SAMPLE_NAME = "fer2013-sample"


def write_sample(source: Path, data_dir: Path, images: int, seed: int) -> str:
    """A stratified sample of the zip's training images as a folder dataset (`<name>/<emotion>/*.jpg`)."""
    with zipfile.ZipFile(source) as archive:
        by_class: dict[str, list[str]] = defaultdict(list)
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "train" and parts[2].endswith(".jpg"):
                by_class[parts[1]].append(name)
        total = sum(len(v) for v in by_class.values())
        rng = random.Random(seed)
        for emotion, names in sorted(by_class.items()):
            folder = data_dir / SAMPLE_NAME / emotion
            folder.mkdir(parents=True, exist_ok=True)
            for name in rng.sample(sorted(names), max(1, round(images * len(names) / total))):
                (folder / Path(name).name).write_bytes(archive.read(name))
    return SAMPLE_NAME


def prepare_dataset(source: Path, work: Path, images: int, seed: int) -> str:
    from fer_models.data.catalog import load_dataset

    data_dir = work / "data"
    name = write_sample(source, data_dir, images, seed) if images else "fer2013"
    dataset = load_dataset(name, data_dir=data_dir, cache_dir=work / "cache", source=None if images else source)
    print(f"{name}: {dataset.split_sizes()}", file=sys.stderr, flush=True)
    return name


def use_work_folder(work: Path) -> None:
    """The worker's settings, all inside the work folder (read by ferbench.settings at first use)."""
    from fer_models.tracking.uri import sqlite_store_uri

    os.environ.update(FERBENCH_HOME=str(work), FERBENCH_DATA_DIR=str(work / "data"),
                      FERBENCH_DATABASE_URL=f"sqlite:///{work / 'ferbench.db'}",
                      MLFLOW_TRACKING_URI=sqlite_store_uri(work), CUDA_VISIBLE_DEVICES="")


def run_queue(queue: list[str], settings: Any, cpu: dict[str, float]) -> None:
    """The worker's loop, in order: each delivery runs the task body, which queues the sweep's next trials.

    `cpu` gets each delivery's CPU seconds (this process's, all threads): on a machine shared with other jobs
    they measure a trial's cost where its wall time also measures the neighbours."""
    from worker.execution import execute_experiment

    while queue:
        experiment_id = queue.pop(0)
        before = time.process_time()
        status = execute_experiment(experiment_id, settings, requeue=queue.append)
        cpu[experiment_id] = time.process_time() - before
        print(f"{time.strftime('%H:%M:%S')} experiment {experiment_id[:8]}: {status}, "
              f"{cpu[experiment_id]:.0f} CPU s", file=sys.stderr, flush=True)


def seconds(row: Any) -> float:
    return (row.finished_at - row.started_at).total_seconds()


def run_sweep(base: dict[str, Any], trials: int, settings: Any, cpu: dict[str, float], startup: int) -> str:
    from api.sweep_submission import parse_sweep
    from ferbench.db.session import make_session_factory
    from ferbench.sweeps.advance import start_sweep

    body = {"base": base, "space": SPACE, "n_trials": trials, "parallel": 1, "sampler": "tpe",
            "pruner": {"kind": "median", "startup_trials": startup, "warmup_epochs": 0}, "objective": "val_accuracy"}
    checked = parse_sweep(json.dumps(body).encode(), settings)
    queue: list[str] = []
    with make_session_factory(settings.resolved_database_url)() as session:
        sweep = start_sweep(session, settings.resolved_database_url, checked.to_row(), queue.append)
    run_queue(queue, settings, cpu)
    return sweep.id


def run_defaults(base: dict[str, Any], settings: Any, cpu: dict[str, float]) -> Any:
    from ferbench.db.experiments import create_experiments, get_experiment
    from ferbench.db.session import make_session_factory

    queue: list[str] = []
    sessions = make_session_factory(settings.resolved_database_url)
    with sessions() as session:
        experiment_id = create_experiments(session, [base], enqueue=queue.append).experiments[0].id
    run_queue(queue, settings, cpu)
    with sessions() as session:
        row = get_experiment(session, experiment_id)
        session.expunge(row)
        return row


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 1) if values else None


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 3) if part is not None and whole else None


def summarise(sweep_id: str, defaults: Any, settings: Any, cpu: dict[str, float]) -> dict[str, Any]:
    from ferbench.db import sweeps
    from ferbench.db.session import make_session_factory

    with make_session_factory(settings.resolved_database_url)() as session:
        views = sweeps.trials_of(session, sweep_id)
        status = sweeps.get_sweep(session, sweep_id).status
        trials = [{"number": v.trial.number, "state": v.trial.state, "params": v.trial.params, "value": v.trial.value,
                   "epochs": (v.experiments[0].progress or {}).get("epoch"),
                   "wall_s": round(seconds(v.experiments[0]), 1), "cpu_s": round(cpu[v.experiments[0].id], 1)}
                  for v in views]
    by_state = {state: [t for t in trials if t["state"] == state] for state in ("complete", "pruned")}
    cost = {f"{state}_{unit}": _mean([t[unit] for t in found]) for state, found in by_state.items()
            for unit in ("cpu_s", "wall_s")}
    # Width changes a trial's cost several times over: each pruned trial also against the full ones of its width.
    full_by_width = {w: _mean([t["cpu_s"] for t in by_state["complete"] if t["params"].get("hp.filters") == w])
                     for w in {t["params"].get("hp.filters") for t in trials}}
    same_width = [t["cpu_s"] / full_by_width[t["params"].get("hp.filters")] for t in by_state["pruned"]
                  if full_by_width.get(t["params"].get("hp.filters"))]
    best = max(by_state["complete"], key=lambda t: t["value"], default=None)
    default_val = float((defaults.progress or {}).get("metrics", {}).get("val_accuracy"))
    return {"sweep_status": status, "trials": trials, "complete": len(by_state["complete"]),
            "pruned": len(by_state["pruned"]), **cost,
            "pruned_cost_ratio_cpu": _ratio(cost["pruned_cpu_s"], cost["complete_cpu_s"]),
            "pruned_cost_ratio_wall": _ratio(cost["pruned_wall_s"], cost["complete_wall_s"]),
            "pruned_cost_ratio_cpu_same_width": round(statistics.mean(same_width), 3) if same_width else None,
            "pruned_same_width_n": len(same_width),
            "pruned_epochs_run": [t["epochs"] for t in by_state["pruned"]],
            "pruned_cost_target": 0.5, "best_trial": best, "defaults_val_accuracy": round(default_val, 4),
            "defaults_wall_s": round(seconds(defaults), 1), "defaults_cpu_s": round(cpu[defaults.id], 1),
            "defaults_spec": defaults.spec, "best_over_defaults": _ratio(best["value"], default_val) if best else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, default=fer2013_zip_path(),
                        help=f"FER2013 training zip; default $FERBENCH_FER2013_ZIP or {DEFAULT_ZIP}")
    parser.add_argument("--images", type=int, default=0,
                        help="Use a stratified sample of this many training images (0: all of FER2013).")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--startup-trials", type=int, default=3,
                        help="complete trials before the median pruner may stop one (3)")
    parser.add_argument("--work", type=Path, default=None, help="Work folder (default: a temporary one).")
    args = parser.parse_args()
    if not args.zip.is_file():
        print(f"error: FER2013 zip not found at {args.zip}; pass --zip PATH or set FERBENCH_FER2013_ZIP", file=sys.stderr)
        return 1
    work = (args.work or Path(tempfile.mkdtemp(prefix="ferbench-sweep-fer2013-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    use_work_folder(work)
    from ferbench.db.migrate import upgrade
    from ferbench.settings import get_settings

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    dataset = prepare_dataset(args.zip, work, args.images, seed=0)
    base = {"model": "cnn-small", "dataset": dataset, "epochs": args.epochs, "batch_size": args.batch_size, "seed": 0}
    import fer_models.training.engine  # noqa: F401 - imported before the first trial, so that none pays for it

    start = time.perf_counter()
    cpu: dict[str, float] = {}
    sweep_id = run_sweep(base, args.trials, settings, cpu, args.startup_trials)
    swept = time.perf_counter()
    defaults = run_defaults(base, settings, cpu)
    out = summarise(sweep_id, defaults, settings, cpu)
    out.update(dataset=dataset, images=args.images or "all", sweep_minutes=round((swept - start) / 60, 1),
               load_average_end=round(os.getloadavg()[0], 1), work=str(work))
    print(f"pruned trials' cost / full trial's: {out['pruned_cost_ratio_cpu']} by CPU time, "
          f"{out['pruned_cost_ratio_wall']} by wall time, {out['pruned_cost_ratio_cpu_same_width']} by CPU time against "
          f"full trials of the same width (target < 0.5; {out['pruned']} pruned at {out['pruned_cpu_s']} CPU s after "
          f"{out['pruned_epochs_run']} epochs, {out['complete']} full at {out['complete_cpu_s']} CPU s)")
    best = out["best_trial"]["value"] if out["best_trial"] else float("nan")
    print(f"best trial's val accuracy {best:.4f} / defaults' {out['defaults_val_accuracy']:.4f} = "
          f"{out['best_over_defaults']} (target > 1)")
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
