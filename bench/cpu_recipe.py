"""The documented CPU recipe: FER2013's training split, the project's 80/10/10 split, 30 minutes of training.

Trains through the same engine as `ferbench train` (checkpoints, MLflow logging to a sqlite store in
the work folder) with a time budget; when the budget ends the run stops gracefully and the best
weights (lowest val_loss) are evaluated on the test split. Prints one JSON line with test accuracy,
macro-F1 and the rest.

    python -m bench.cpu_recipe --zip ../shared/datasets/fer2013-train.zip               # 30 min
    FERBENCH_FER2013_ZIP=/path/to/fer2013-train.zip python -m bench.cpu_recipe --minutes 1   # a smoke run

The equivalent CLI call (after `ferbench preprocess --dataset fer2013 --source <zip>`):

    ferbench train --model cnn-medium --hp filters=32 --dataset fer2013 --epochs 200 --batch-size 128 --optimizer adam \
        --learning-rate 0.001 --lr-schedule plateau --warmup-epochs 1 --label-smoothing 0.1 \
        --augmentation light --time-budget-minutes 30 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench import DEFAULT_ZIP, fer2013_zip_path  # noqa: E402

RECIPE = {
    "model": "cnn-medium",
    # Half-width cnn-medium: on 2 cores the full width gets too few epochs in 30 minutes to converge.
    "hyperparameters": {"filters": 32},
    "dataset": "fer2013",
    "epochs": 200,  # the time budget ends the run; epochs only bounds it
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "lr_schedule": "plateau",  # no fixed length to anneal over when the budget decides the end
    "warmup_epochs": 1,
    "label_smoothing": 0.1,
    "augmentation": "light",
    "seed": 0,
    "split_seed": 42,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, default=fer2013_zip_path(),
                        help="FER2013 training zip (train/<emotion>/*.jpg); default $FERBENCH_FER2013_ZIP or "
                             f"{DEFAULT_ZIP}")
    parser.add_argument("--minutes", type=float, default=30.0, help="Training time budget (default 30).")
    parser.add_argument("--work", type=Path, default=None, help="Work folder (default: a temporary one).")
    parser.add_argument("--model", default=RECIPE["model"])
    parser.add_argument("--batch-size", type=int, default=RECIPE["batch_size"])
    parser.add_argument("--augmentation", default=RECIPE["augmentation"])
    args = parser.parse_args()

    source = Path(args.zip)
    if not source.is_file():
        print(f"error: FER2013 zip not found at {source}; pass --zip PATH or set FERBENCH_FER2013_ZIP", file=sys.stderr)
        return 1

    from fer_models.data.catalog import load_dataset
    from fer_models.training.engine import run_experiment
    from fer_models.tracking.uri import sqlite_store_uri
    from fer_models.training.hooks import RunHooks
    from fer_models.training.spec import parse_spec

    work = args.work or Path(tempfile.mkdtemp(prefix="ferbench-cpu-recipe-"))
    data_dir, cache_dir = work / "data", work / "cache"
    start = time.perf_counter()
    dataset = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=source,
                           split_seed=RECIPE["split_seed"])
    decode_seconds = time.perf_counter() - start
    counts = dataset.split_sizes()
    print(f"fer2013: {counts} (decoded in {decode_seconds:.0f} s)", file=sys.stderr, flush=True)
    # The engine loads the dataset by name: point it at the cache we just filled (no source under data_dir).
    spec = parse_spec({**RECIPE, "model": args.model, "batch_size": args.batch_size,
                       "augmentation": args.augmentation, "time_budget_minutes": args.minutes})

    def report(p) -> None:
        if p.batch == p.batches:
            shown = {k: round(v, 4) for k, v in p.metrics.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr")}
            print(f"epoch {p.epoch}: {shown}", file=sys.stderr, flush=True)

    result = run_experiment(spec, work_dir=work / "run", data_dir=data_dir, cache_dir=cache_dir,
                            tracking_uri=sqlite_store_uri(work), hooks=RunHooks(on_progress=report))
    m = result.metrics
    print(json.dumps({
        "recipe": spec.model_dump(mode="json"), "status": result.status, "epochs": result.epochs_completed,
        "split": counts, "split_fingerprint": result.split_fingerprint,
        "test_accuracy": round(m["accuracy"], 4), "test_f1_macro": round(m["f1_macro"], 4),
        "test_balanced_accuracy": round(m["balanced_accuracy"], 4), "train_seconds": round(m["train_seconds"], 1),
        "work": str(work),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
