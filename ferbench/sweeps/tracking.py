"""A sweep in MLflow: one parent run (in the dataset's MLflow experiment) whose children are the trials'
runs (tag `mlflow.parentRunId`), and, once the sweep ends, Optuna's plots and the best trial on it.

Called from the worker: the API never talks to MLflow for a sweep.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferbench.db.models import METRICS, Sweep
from ferbench.db.sweeps import TrialView, best_of, mean_test_metrics

log = logging.getLogger(__name__)
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate")


def _logger(tracking_uri: str, run_id: str | None = None) -> Any:
    from fer_models.tracking.run_logger import RunLogger

    logger = RunLogger(tracking_uri)
    logger.run_id = run_id
    return logger


def create_parent_run(tracking_uri: str, sweep: Sweep) -> str:
    logger = _logger(tracking_uri)
    run_id = logger.open(sweep.dataset, run_id=None, run_name=f"sweep-{sweep.model}-{sweep.id[:8]}",
                         tags={"sweep_id": sweep.id, "ferbench.kind": "sweep", "model": sweep.model,
                               "dataset": sweep.dataset, "study_name": sweep.study_name})
    logger.log_params({"sampler": sweep.sampler, "sampler_seed": sweep.sampler_seed, "pruner": sweep.pruner,
                       "objective": sweep.objective, "direction": sweep.direction, "n_trials": sweep.n_trials,
                       "parallel": sweep.parallel, "seeds": sweep.seeds, "space": json.dumps(sweep.space)})
    return run_id


def delete_run(tracking_uri: str, run_id: str) -> None:
    """A parent run that lost the race to be the sweep's (another worker stored its own first)."""
    with contextlib.suppress(Exception):
        _logger(tracking_uri).client.delete_run(run_id)


def _plots(study: Any, folder: Path) -> tuple[list[Path], dict[str, str]]:
    """Optuna's matplotlib plots of the study as PNGs; a plot that cannot be drawn is skipped, with why."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    made, skipped = [], {}
    for name in PLOTS:
        try:
            axes = getattr(optuna_plots, f"plot_{name}")(study)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            figure.set_size_inches(9, 5.5)
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            made.append(path)
        except Exception as exc:  # noqa: BLE001 - e.g. importances need two complete trials
            skipped[name] = f"{type(exc).__name__}: {exc}"[:500]
    return made, skipped


def finalize_parent_run(tracking_uri: str, sweep: Sweep, trials: list[TrialView], study: Any) -> None:
    """Log each trial's objective (step = trial number), the best trial's values and test metrics, and the
    plots; then end the run (KILLED for a cancelled sweep)."""
    logger = _logger(tracking_uri, sweep.mlflow_run_id)
    for view in trials:
        if view.trial.value is not None:
            logger.log_metrics({f"trial_{sweep.objective}": view.trial.value}, step=view.trial.number)
    best = best_of(trials, sweep.direction)
    states: Mapping[str, int] = {s: sum(v.trial.state == s for v in trials) for s in ("complete", "pruned", "failed",
                                                                                      "cancelled")}
    logger.log_metrics({f"trials_{k}": float(n) for k, n in states.items()})
    if best is not None:
        tests = mean_test_metrics(best.results, METRICS)
        logger.log_metrics({f"best_{sweep.objective}": float(best.trial.value), "best_trial": float(best.trial.number),  # type: ignore[arg-type]
                            **{f"best_test_{k}": v for k, v in tests.items() if v is not None}})
        logger.set_tags({"best_trial": str(best.trial.number),
                         "best_experiment_ids": ",".join(e.id for e in best.experiments)})
        logger.log_params({f"best.{k}": v for k, v in best.trial.params.items()})
    with tempfile.TemporaryDirectory(prefix="ferbench-sweep-") as tmp:
        made, skipped = _plots(study, Path(tmp))
        for path in made:
            logger.log_artifact(path, "plots")
    if skipped:
        logger.set_tags({f"plot_skipped.{k}": v for k, v in skipped.items()})
    logger.finish("KILLED" if sweep.status == "cancelled" else ("FAILED" if sweep.status == "failed" else "FINISHED"))
