"""Worker time of an ensemble (issue 12): 5 members over 7,000 test images must combine in under 2 s.

What the worker does for an ensemble, timed: read the members' stored predictions from SQL, check
them, fit the weights on validation, combine, and compute every metric with its bootstrap intervals.
The baseline, measured in the same run, is what every trained run already pays after its last epoch:
the metrics and intervals of one model's test predictions. The ratio says how many of those an
ensemble costs. Probabilities are made up (their values do not change the cost).

    python -m bench.bench_ensemble                     # 5 members, 7,000 test and 3,500 validation images
    python -m bench.bench_ensemble --members 3 --test 3589
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 2.0


def _member(rng: np.random.Generator, y_val: np.ndarray, y_test: np.ndarray) -> object:
    from fer_models.data.labels import EMOTIONS
    from fer_models.evaluation.predictions import Predictions

    def probs(y: np.ndarray) -> np.ndarray:
        p = rng.dirichlet(np.ones(7), len(y)).astype(np.float32)
        p[np.arange(len(y)), y] += rng.random(len(y)).astype(np.float32)
        return p / p.sum(axis=1, keepdims=True)

    return Predictions("bench-split", tuple(EMOTIONS), y_val, probs(y_val), y_test, probs(y_test))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--test", type=int, default=7000)
    parser.add_argument("--val", type=int, default=3500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from fer_models.evaluation.ensemble_run import EnsembleSpec, build_ensemble
    from fer_models.evaluation.metrics import classification_report
    from fer_models.evaluation.predictions import interval_metrics
    from ferbench.db import lifecycle, predictions
    from ferbench.db.experiments import create_experiments
    from ferbench.db.migrate import upgrade
    from ferbench.db.session import make_session_factory

    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 7, args.val), rng.integers(0, 7, args.test)
    members = [_member(rng, y_val, y_test) for _ in range(args.members)]
    with tempfile.TemporaryDirectory(prefix="bench-ensemble-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        session = make_session_factory(url)()
        ids = []
        for seed, member in enumerate(members):
            spec = {"model": "cnn-small", "dataset": "bench", "epochs": 1, "seed": seed}
            (row,) = create_experiments(session, [spec], enqueue=lambda _id: None).experiments
            lifecycle.claim_experiment(session, row.id)
            lifecycle.finish_experiment(session, row.id, lifecycle.ResultRecord(
                metrics={"accuracy": 0.5}, split_fingerprint="bench-split", predictions=member.to_bytes()))
            ids.append(row.id)
        interval_metrics(y_test, members[0].test_probs)  # imports and first-call costs out of the timings

        def baseline() -> None:
            classification_report(y_test, members[0].test_probs)
            interval_metrics(y_test, members[0].test_probs)

        def ensemble(method: str) -> None:
            stored = predictions.load_predictions(session, ids)
            build_ensemble(EnsembleSpec(members=ids, method=method, split_fingerprint="bench-split"), stored)

        def timed(fn: object) -> float:
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        base = timed(baseline)
        report = {"members": args.members, "test_images": args.test, "val_images": args.val,
                  "baseline_one_model_metrics_s": round(base, 4), "target_s": TARGET_SECONDS, "methods": {}}
        for method in ("mean", "weighted", "greedy"):
            seconds = timed(lambda m=method: ensemble(m))
            report["methods"][method] = {"seconds": round(seconds, 4), "ratio_to_baseline": round(seconds / base, 2),
                                         "meets_target": seconds < TARGET_SECONDS}
        session.close()
    print(json.dumps(report, indent=2))
    return 0 if all(m["meets_target"] for m in report["methods"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
