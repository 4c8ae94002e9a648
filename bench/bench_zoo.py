"""Every model of the zoo trains on FER2013 with odd batches, under each Keras backend: a table of
model, backend, seconds per 100 batches and the training process's exit status.

Each (model, backend) trains in its own process, so a crash in native code (issue 17: mini-xception
under TensorFlow's oneDNN) shows as its signal in the table instead of ending the benchmark. The
training subset ends on a partial batch (batch 59, last batch 45), the model is built and compiled
as the engine does (augmentation in front, the model's default input size) and timed after
`--warmup` batches, so compilation is not counted.

    python -m bench.bench_zoo                                   # every model, tensorflow and jax
    python -m bench.bench_zoo --backends tensorflow,tensorflow-noonednn --models mini-xception,resnet50
    python -m bench.bench_zoo --models mini-xception --full-epoch     # one whole FER2013 epoch
    python -m bench.bench_zoo --models cnn-medium --hp '{"filters": 32}' --batch-size 128 --full-epoch  # the CPU recipe

The zip comes from --zip, else $FERBENCH_FER2013_ZIP, else ../shared/datasets/fer2013-train.zip
beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, fer2013_zip_path

# "tensorflow-noonednn": TensorFlow with oneDNN off, the workaround the fix avoided; its cost is the point.
BACKENDS = {
    "tensorflow": {"KERAS_BACKEND": "tensorflow"},
    "tensorflow-noonednn": {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "0"},
    "jax": {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
}
LAST_BATCH = 45  # what FER2013's Kaggle training folder leaves at batch 64: odd, as users hit it


def _status(code: int | None) -> str:
    if code is None:
        return "timeout"
    if code < 0:
        return signal.Signals(-code).name
    return "ok" if code == 0 else f"exit {code}"


def run_child(args: argparse.Namespace) -> None:
    """In the child: train `args.child` for the bounded batches, print one JSON line of timings."""
    import keras
    import numpy as np

    from fer_models.data.catalog import load_dataset
    from fer_models.training.model_setup import build_models, compile_model
    from fer_models.training.spec import parse_spec

    dataset = load_dataset("fer2013", data_dir=args.data_dir, cache_dir=args.cache_dir, source=args.zip)
    images, labels = dataset.subset("train")
    if not args.full_epoch:
        count = args.batch_size * (args.batches - 1) + LAST_BATCH
        images, labels = images[:count], labels[:count]
    spec = parse_spec({"model": args.child, "dataset": "fer2013", "batch_size": args.batch_size,
                       "hyperparameters": json.loads(args.hp)})
    train_model, _ = build_models(spec, num_classes=7, image_size=48)
    compile_model(train_model, spec, spec.learning_rate)
    ends: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            ends.append(time.perf_counter())

    x = images.astype("float32")[..., None]
    y = keras.utils.to_categorical(labels, 7).astype("float32")
    start = time.perf_counter()
    train_model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=True, verbose=0, callbacks=[Clock()])
    total = time.perf_counter() - start
    timed = np.diff(ends[args.warmup - 1:]) if len(ends) > args.warmup else np.array([total])
    print(json.dumps({"batches": len(ends), "images": int(len(labels)), "epoch_seconds": total,
                      "seconds_per_batch": float(np.mean(timed)), "last_batch": int(len(labels) % args.batch_size)}),
          flush=True)


def run_one(args: argparse.Namespace, model: str, backend: str) -> dict[str, Any]:
    env = {**os.environ, **BACKENDS[backend], "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "bench.bench_zoo", "--child", model, "--zip", str(args.zip),
               "--data-dir", str(args.data_dir), "--cache-dir", str(args.cache_dir),
               "--batches", str(args.batches), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size)]
    if args.full_epoch:
        command.append("--full-epoch")
    command += ["--hp", args.hp]
    started = time.perf_counter()
    try:
        out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=args.timeout)
        code: int | None = out.returncode
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        stderr = out.stderr
    except subprocess.TimeoutExpired:
        code, lines, stderr = None, [], ""
    row: dict[str, Any] = {"model": model, "backend": backend, "status": _status(code),
                           "wall_seconds": time.perf_counter() - started}
    if code == 0 and lines:
        row.update(json.loads(lines[-1]))
        row["seconds_per_100_batches"] = 100 * row["seconds_per_batch"]
    elif code not in (0, None):
        row["stderr_tail"] = stderr[-400:]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, default=fer2013_zip_path())
    parser.add_argument("--models", default="", help="Comma-separated (default: every model of the zoo).")
    parser.add_argument("--backends", default="tensorflow,jax", help=f"Comma-separated, of {', '.join(BACKENDS)}.")
    parser.add_argument("--batch-size", type=int, default=59)
    parser.add_argument("--batches", type=int, default=8, help="Batches per run, the last one partial.")
    parser.add_argument("--warmup", type=int, default=2, help="Batches left out of the timing (compilation).")
    parser.add_argument("--full-epoch", action="store_true", help="Train one whole epoch of the training split.")
    parser.add_argument("--hp", default="{}", help='Hyperparameters for every model, as JSON (e.g. \'{"filters": 32}\').')
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds before a run counts as a timeout.")
    parser.add_argument("--work", type=Path, default=None, help="Data cache folder (default: a temporary one).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the rows to this file.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return 0
    if not args.zip.is_file():
        print(f"FER2013 zip not found at {args.zip}: pass --zip or set FERBENCH_FER2013_ZIP", file=sys.stderr)
        return 2
    from fer_models.models.registry import list_models

    models = [m for m in args.models.split(",") if m] or list_models()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        print(f"unknown backend(s) {unknown}; accepted: {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        work = args.work or Path(tmp)
        args.data_dir, args.cache_dir = work / "data", work / "cache"
        args.data_dir.mkdir(parents=True, exist_ok=True)
        from fer_models.data.catalog import load_dataset

        load_dataset("fer2013", data_dir=args.data_dir, cache_dir=args.cache_dir, source=args.zip)  # decode once
        rows = []
        print("| model | backend | s / 100 batches | epoch s | batches (last) | exit status |")
        print("|---|---|---:|---:|---|---|")
        for model in models:
            for backend in backends:
                row = run_one(args, model, backend)
                rows.append(row)
                per100 = f"{row['seconds_per_100_batches']:.1f}" if "seconds_per_100_batches" in row else "-"
                epoch = f"{row['epoch_seconds']:.1f}" if "epoch_seconds" in row else "-"
                shape = f"{row['batches']} ({row['last_batch']})" if "batches" in row else "-"
                print(f"| {model} | {backend} | {per100} | {epoch} | {shape} | {row['status']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
