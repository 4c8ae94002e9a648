"""The `cpu-30min` recipe on FER2013: train on 2 CPU cores, select on validation, test on a part never tuned on.

FER2013's Kaggle training folder, the project's stratified 80/10/10 split (split seed 42): the model
trains on the 80%, the recipe's checkpoint selection and every choice made while designing the recipe
looked only at the 10% validation part, and the 10% test part is scored once at the end. Trains
through the same engine as `ferbench train --recipe cpu-30min` (checkpoints, MLflow logging to a
sqlite store in the work folder) with a time budget as a safety stop. Prints the validation accuracy
after every epoch with the minutes spent, one JSON line with the test figures, and plots the accuracy
over the minutes.

    python -m bench.cpu_recipe --zip ../shared/datasets/fer2013-train.zip --plot docs/images/cpu-30min.png
    python -m bench.cpu_recipe --recipe cpu-30min --set epochs=2       # a smoke run

The CLI equivalent (after `ferbench preprocess --dataset fer2013 --source <zip>`):

    ferbench train --recipe cpu-30min --dataset fer2013
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench import DEFAULT_ZIP, fer2013_zip_path  # noqa: E402

TARGET_ACCURACY = 0.66  # the write-up's VGG19 and MobileNet, and about the `fer` package's mini-Xception


def plot_accuracy_over_minutes(minutes: list[float], val_accuracy: list[float], test_accuracy: float,
                               path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(minutes, val_accuracy, marker="o", label="validation accuracy (after each epoch)")
    ax.scatter([minutes[-1]], [test_accuracy], color="tab:red", zorder=3,
               label=f"test accuracy, scored once: {test_accuracy:.1%}")
    ax.axhline(TARGET_ACCURACY, color="gray", linestyle="--", label=f"target {TARGET_ACCURACY:.0%}")
    ax.set_xlabel("minutes of training (2 CPU cores)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _validation_accuracy_by_tta(model_uri: str, tracking_uri: str, dataset: Any) -> dict[str, float]:
    import mlflow
    import numpy as np

    from fer_models.data.pipeline import to_model_input
    from fer_models.data.tta import TTA_MODES, predict_with_tta
    from fer_models.evaluation.evaluate import predict_probs
    from fer_models.tracking.keras_model import load_keras_model

    mlflow.set_tracking_uri(tracking_uri)
    model = load_keras_model(model_uri)
    images, labels = dataset.subset("val")
    x = to_model_input(images)
    out = {}
    for mode in TTA_MODES:
        probs = predict_with_tta(lambda batch: predict_probs(model, batch), x, mode)
        out[mode] = round(float(np.mean(np.argmax(probs, axis=1) == labels)), 4)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, default=fer2013_zip_path(),
                        help="FER2013 training zip (train/<emotion>/*.jpg); default $FERBENCH_FER2013_ZIP or "
                             f"{DEFAULT_ZIP}")
    parser.add_argument("--recipe", default="cpu-30min")
    parser.add_argument("--minutes", type=float, default=30.0, help="Training time budget, a safety stop (30).")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="Override a spec field of the recipe (JSON values), e.g. --set epochs=2")
    parser.add_argument("--work", type=Path, default=None, help="Work folder (default: a temporary one).")
    parser.add_argument("--plot", type=Path, default=None, help="Write the accuracy-over-minutes plot here.")
    args = parser.parse_args()

    source = Path(args.zip)
    if not source.is_file():
        print(f"error: FER2013 zip not found at {source}; pass --zip PATH or set FERBENCH_FER2013_ZIP", file=sys.stderr)
        return 1

    from fer_models.data.catalog import load_dataset
    from fer_models.tracking.uri import sqlite_store_uri
    from ferbench.cli.options import parse_hyperparameters
    from fer_models.training.engine import run_experiment
    from fer_models.training.hooks import RunHooks
    from fer_models.training.spec import parse_spec

    spec = parse_spec({"recipe": args.recipe, "dataset": "fer2013", "time_budget_minutes": args.minutes,
                       **parse_hyperparameters(args.set, "--set")})
    work = args.work or Path(tempfile.mkdtemp(prefix="ferbench-cpu-recipe-"))
    data_dir, cache_dir = work / "data", work / "cache"
    start = time.perf_counter()
    dataset = load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir, source=source, split_seed=spec.split_seed)
    counts = dataset.split_sizes()
    print(f"fer2013: {counts} (decoded in {time.perf_counter() - start:.0f} s); cpu cores: {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    trained = time.perf_counter()

    def report(p: Any) -> None:
        if p.batch == p.batches:
            shown = {k: round(v, 4) for k, v in p.metrics.items() if k in ("loss", "accuracy", "val_accuracy", "lr")}
            print(f"epoch {p.epoch}/{p.epochs} at {(time.perf_counter() - trained) / 60:.1f} min: {shown}",
                  file=sys.stderr, flush=True)

    # The engine loads the dataset by name from the cache filled above (no source under data_dir).
    result = run_experiment(spec, work_dir=work / "run", data_dir=data_dir, cache_dir=cache_dir,
                            tracking_uri=sqlite_store_uri(work), hooks=RunHooks(on_progress=report))
    m = result.metrics
    # Which test-time augmentation to use is decided on validation images only: every mode's accuracy there.
    val_by_tta = _validation_accuracy_by_tta(f"runs:/{result.mlflow_run_id}/model", sqlite_store_uri(work), dataset)
    print(f"validation accuracy by test-time augmentation: {val_by_tta}", file=sys.stderr, flush=True)
    seconds = result.history.get("epoch_seconds", [])
    minutes = [sum(seconds[:i + 1]) / 60 for i in range(len(seconds))]
    summary = {
        "recipe": args.recipe, "spec": spec.model_dump(mode="json"), "status": result.status,
        "epochs": result.epochs_completed, "split": counts, "split_fingerprint": result.split_fingerprint,
        "test_accuracy": round(m["accuracy"], 4), "test_accuracy_no_tta": round(m.get("accuracy_no_tta", m["accuracy"]), 4),
        "test_f1_macro": round(m["f1_macro"], 4), "test_balanced_accuracy": round(m["balanced_accuracy"], 4),
        "train_seconds": round(m["train_seconds"], 1), "inference_ms_with_tta": round(m["inference_ms"], 3),
        "val_accuracy_by_epoch": [round(v, 4) for v in result.history.get("val_accuracy", [])],
        "minutes_by_epoch": [round(v, 2) for v in minutes], "load_average_end": round(os.getloadavg()[0], 1),
        "val_accuracy_by_tta": val_by_tta, "target_reached": m["accuracy"] >= TARGET_ACCURACY, "work": str(work),
    }
    print(json.dumps(summary))
    if args.plot and minutes:
        plot_accuracy_over_minutes(minutes, list(result.history.get("val_accuracy", [])), m["accuracy"], args.plot,
                                   title=f"{args.recipe} on FER2013 (2 CPU cores): test {m['accuracy']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
