"""Training throughput of the `cpu-30min` recipe's model: the engine today against the engine before it (issue 10).

Three runs of the same model, batch, augmentation and data, measured in the same process minutes apart:

- before: the engine as it trained this model before the recipe existed (float32: its only choice on a CPU);
- engine: the engine with the recipe's settings (mixed_bfloat16 on a CPU with AVX512_BF16 or AMX);
- bare: a bare `model.fit` with the recipe's settings and no callbacks of ours.

Throughput is training images per second between consecutive epoch ends (median over the epochs after
the first, which traces the graph), per wall second and per process-CPU second; the ratios use CPU
seconds, which the other processes on a shared 2-core machine cannot skew. Targets: engine / before
>= 1.3, engine / bare >= 0.95. The images are the synthetic generator's: speed does not depend on what
the faces show.

    python -m bench.bench_recipe_throughput                 # 4 epochs of the synthetic training split
    python -m bench.bench_recipe_throughput --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.bench_engine import bare_fit, engine_fit  # noqa: E402

TARGET_SPEEDUP = 1.3
TARGET_ENGINE_RATIO = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="cpu-30min")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()

    from fer_models.data.catalog import load_dataset
    from fer_models.training.spec import parse_spec

    with tempfile.TemporaryDirectory(prefix="bench-recipe-") as folder:
        tmp = Path(folder)
        data_dir, cache_dir = tmp / "data", tmp / "cache"
        dataset = load_dataset("synthetic", data_dir=data_dir, cache_dir=cache_dir)
        common: dict[str, Any] = {"recipe": args.recipe, "dataset": "synthetic", "epochs": args.epochs}
        recipe = parse_spec(common)
        before = parse_spec({**common, "precision": "float32"})
        runs = {"before": engine_fit(before, dataset, tmp / "before", data_dir, cache_dir),
                "engine": engine_fit(recipe, dataset, tmp / "engine", data_dir, cache_dir),
                "bare": bare_fit(recipe, dataset)}
    speedup = runs["engine"]["cpu"] / runs["before"]["cpu"]
    overhead = runs["engine"]["cpu"] / runs["bare"]["cpu"]
    row = {
        "recipe": args.recipe, "model": recipe.model, "precision": recipe.precision, "batch_size": recipe.batch_size,
        "train_images": dataset.split_sizes()["train"], "epochs": args.epochs, "cpu_cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        **{f"{name}_images_per_s": round(r["wall"], 1) for name, r in runs.items()},
        **{f"{name}_images_per_cpu_s": round(r["cpu"], 1) for name, r in runs.items()},
        "engine_over_before": round(speedup, 3), "engine_over_bare": round(overhead, 3),
        "ok": speedup >= TARGET_SPEEDUP and overhead >= TARGET_ENGINE_RATIO,
    }
    print(json.dumps(row))
    return 0 if row["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
