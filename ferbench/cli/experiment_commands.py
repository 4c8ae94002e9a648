"""`ferbench train`, `evaluate` and `visualize`: the write-up's commands, run in-process.

TensorFlow/Keras are imported inside the commands, so `ferbench --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from fer_models.errors import FerBenchError
from fer_models.training.spec import ExperimentSpec, parse_spec
from fer_models.vocabulary import METRICS
from ferbench.cli.formatting import format_metric
from ferbench.cli.options import model_data, model_options, with_options
from ferbench.settings import Settings, get_settings

if TYPE_CHECKING:  # MLflow loads when a command needs it, not for `ferbench --help`
    from fer_models.tracking.runs import TrainedRun, TrainingRuns

# The table's rows: DESIGN.md's metrics, and the latency's 95th percentile that MLflow keeps beside them.
SUMMARY_METRICS = (*METRICS, "inference_ms_p95")


def tracking_uri_for(settings: Settings) -> str:
    """MLFLOW_TRACKING_URI when set, else the default store `ferbench up` uses too (created and migrated once)."""
    from fer_models.tracking.uri import default_store_dir, default_tracking_uri, local_artifact_root, validate_tracking_uri

    if settings.mlflow_tracking_uri:
        return validate_tracking_uri(settings.mlflow_tracking_uri)
    default_store_dir(settings.home).mkdir(parents=True, exist_ok=True)
    uri = default_tracking_uri(settings.home)
    from ferbench.services.mlflow_server import prepare_store

    prepare_store(uri, local_artifact_root(uri) or "")
    return uri


def _console(as_json: bool) -> Console:
    # With --json, stdout carries only the JSON document; humans' output goes to stderr.
    return Console(stderr=as_json)


def _metrics_table(metrics: dict[str, float], title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in SUMMARY_METRICS:
        if key in metrics:
            table.add_row(key, format_metric(key, metrics[key]))
    return table


def _per_class_table(per_class: dict[str, dict[str, float]]) -> Table:
    table = Table(title="Per class (test split)")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in per_class.items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(int(row["support"])))
    return table


@contextmanager
def _cooperative_interrupt() -> Iterator[dict[str, bool]]:
    """First Ctrl-C asks the engine to stop after the current batch (checkpoint kept); a second one aborts."""
    flag = {"stop": False}
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["stop"] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# ---- train --------------------------------------------------------------------------------------


# One option per spec field. `names`: where the CLI has always used another name than the derived one.
TRAIN_OPTIONS = model_options(
    ExperimentSpec,
    names={"learning_rate": ("--learning-rate", "--lr"), "early_stopping.restore_best_weights": ("--restore-best-weights",),
           "hyperparameters": ("--hp",)},
    metavars={"hyperparameters": "KEY=VALUE"},
)


@click.command("train")
@with_options(TRAIN_OPTIONS)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Checkpoint folder; an interrupted run resumes when given the same folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train_command(as_json: bool, work_dir: Path | None, **values: Any) -> None:
    """Train and evaluate one model, logged to MLflow; prints a metrics table (or --json)."""
    settings = get_settings()
    data = model_data(TRAIN_OPTIONS, values)
    spec = parse_spec(data, allow_weight_files=True)  # every spec error before anything heavy starts
    uri = tracking_uri_for(settings)
    if work_dir is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        work_dir = settings.runs_dir / f"{spec.model}-{spec.dataset}-{stamp}"
    console = _console(as_json)
    result = _train_with_progress(spec, settings, uri, work_dir, console, show_progress=not as_json)
    payload = {
        "status": result.status, "mlflow_run_id": result.mlflow_run_id, "epochs_completed": result.epochs_completed,
        "stopped_reason": result.stopped_reason, "metrics": result.metrics, "per_class": result.per_class,
        "confusion_matrix": result.confusion_matrix, "history": result.history,
        "dataset_fingerprint": result.dataset_fingerprint, "split_fingerprint": result.split_fingerprint,
        "work_dir": str(work_dir), "tracking_uri": uri,
    }
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    if result.status == "cancelled":
        console.print(f"[yellow]Stopped after {result.epochs_completed} epoch(s).[/] Resume with: "
                      f"ferbench train --model {spec.model} ... --work-dir {work_dir}")
        return
    console.print(_metrics_table(result.metrics, f"{spec.model} on {spec.dataset}: {result.status} "
                                                 f"({result.epochs_completed} epochs)"))
    console.print(_per_class_table(result.per_class))
    console.print(f"MLflow run {result.mlflow_run_id} at {uri}")


def _train_with_progress(spec: Any, settings: Settings, uri: str, work_dir: Path, console: Console,
                         *, show_progress: bool) -> Any:
    from fer_models.training.child_process import run_experiment_in_child
    from fer_models.training.hooks import Progress as EngineProgress
    from fer_models.training.hooks import RunHooks

    columns = (TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]} batch {task.fields[batch]}"),
               BarColumn(), TaskProgressColumn(),
               TextColumn("loss {task.fields[loss]} acc {task.fields[acc]}"), TextColumn("ETA"),
               TimeRemainingColumn())
    bar = Progress(*columns, console=console, disable=not show_progress, transient=False)
    task = bar.add_task("train", total=None, epoch=0, epochs=spec.epochs, batch="-", loss="-", acc="-")

    def on_progress(p: EngineProgress) -> None:
        done = (p.epoch - 1) * p.batches + p.batch
        bar.update(task, total=p.epochs * p.batches, completed=done, epoch=p.epoch, epochs=p.epochs,
                   batch=f"{p.batch}/{p.batches}", loss=f"{p.metrics.get('loss', float('nan')):.4f}",
                   acc=f"{p.metrics.get('accuracy', float('nan')):.3f}")

    with _cooperative_interrupt() as flag, bar:
        hooks = RunHooks(on_progress=on_progress, should_stop=lambda: flag["stop"], progress_every_batches=5)
        # In a child process: a crash in native code (a segfault in TensorFlow) becomes one line here.
        return run_experiment_in_child(spec, work_dir=work_dir, data_dir=settings.data_dir,
                                       cache_dir=settings.cache_dir, tracking_uri=uri, hooks=hooks)


# ---- evaluate -----------------------------------------------------------------------------------


@click.command("evaluate")
@click.option("--model", required=True, help="Model name whose trained run to evaluate.")
@click.option("--run-id", default=None, help="A specific MLflow run (default: that model's best run).")
@click.option("--dataset", default=None, help="Only consider runs on this dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def evaluate_command(model: str, run_id: str | None, dataset: str | None, as_json: bool) -> None:
    """Re-evaluate the best (or named) trained run of a model on its test split, from the logged model."""
    from fer_models.tracking.runs import RunNotFound, TrainingRuns

    settings = get_settings()
    uri = tracking_uri_for(settings)
    runs = TrainingRuns(uri)
    if run_id:
        try:
            run = runs.get(run_id)
        except RunNotFound as exc:
            raise FerBenchError(f"{exc}; list runs with `ferbench visualize` or the UI") from None
        if run.model != model:
            raise FerBenchError(f"run {run_id} trained {run.model!r}, not {model!r}")
    else:
        finished = runs.finished(dataset=dataset, model=model)
        if not finished:
            where = f" on dataset {dataset!r}" if dataset else ""
            raise FerBenchError(f"no finished run of model {model!r}{where} at {uri}; train one with "
                                f"`ferbench train --model {model}`")
        run = finished[0]
    evaluation = _evaluate_run(runs, run, settings)
    metrics = evaluation.metrics
    payload = {"run_id": run.run_id, "model": model, "dataset": run.dataset,
               "metrics": metrics, "per_class": evaluation.report.per_class,
               "confusion_matrix": evaluation.report.confusion_matrix,
               "logged_test_accuracy": run.metrics.get("test_accuracy")}
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    console.print(_metrics_table(metrics, f"{model} on {payload['dataset']} (run {run.run_id})"))
    console.print(_per_class_table(evaluation.report.per_class))


def _evaluate_run(runs: TrainingRuns, run: TrainedRun, settings: Settings) -> Any:
    from fer_models.data.catalog import load_dataset
    from fer_models.evaluation.evaluate import evaluate_model
    from fer_models.tracking.keras_model import load_keras_model

    dataset = load_dataset(run.tags["dataset"], data_dir=settings.data_dir, cache_dir=settings.cache_dir,
                           split_seed=int(run.params.get("split_seed", 42)))
    if run.split_fingerprint and dataset.split_fingerprint != run.split_fingerprint:
        raise FerBenchError(
            f"dataset {run.dataset!r} no longer gives run {run.run_id}'s split "
            f"(fingerprint {dataset.split_fingerprint} != {run.split_fingerprint}): its data changed"
        )
    keras_model = load_keras_model(str(runs.download_model(run.run_id)))
    x_test, y_test = dataset.subset("test")
    return evaluate_model(keras_model, x_test, y_test, list(dataset.class_names), tta=run.params.get("tta", "none"))


# ---- visualize ----------------------------------------------------------------------------------


@click.command("visualize")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default FERBENCH_HOME/charts).")
@click.option("--dataset", default=None, help="One dataset (default: every dataset with finished runs).")
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def visualize_command(out_dir: Path | None, dataset: str | None, as_json: bool) -> None:
    """Comparison charts across finished runs (best run per model), as PNGs also logged to MLflow."""
    from fer_models.tracking.runs import TrainingRuns

    settings = get_settings()
    uri = tracking_uri_for(settings)
    runs = TrainingRuns(uri)
    out_dir = out_dir or settings.home / "charts"
    finished = runs.finished(dataset=dataset)
    if not finished:
        where = f" on dataset {dataset!r}" if dataset else ""
        raise FerBenchError(f"no finished training runs{where} at {uri}; train some with `ferbench train`")
    written: dict[str, list[str]] = {}
    by_dataset: dict[str, list[TrainedRun]] = {}
    for run in finished:
        by_dataset.setdefault(run.tags["dataset"], []).append(run)
    for name, dataset_runs in sorted(by_dataset.items()):
        paths = _charts_for_dataset(runs, name, dataset_runs, out_dir / name)
        written[name] = [str(p) for p in paths]
    if as_json:
        click.echo(json.dumps({"out": str(out_dir), "charts": written}, indent=2))
        return
    for name, paths in written.items():
        click.echo(f"{name}: {len(paths)} charts in {out_dir / name}")
        for path in paths:
            click.echo(f"  {path}")


def _charts_for_dataset(runs: TrainingRuns, dataset: str, finished: list[TrainedRun], out_dir: Path) -> list[Path]:
    from fer_models.evaluation.plots import RunSummary, comparison_charts

    # Numbers from different splits are never compared: keep the split most runs share.
    by_split: dict[str, list[TrainedRun]] = {}
    for run in finished:
        by_split.setdefault(run.split_fingerprint or "", []).append(run)
    best: dict[str, TrainedRun] = {}
    for run in max(by_split.values(), key=len):  # already sorted best first
        best.setdefault(run.tags["model"], run)
    summaries, class_names = [], None
    for model, run in best.items():
        report: dict[str, Any] = {}
        try:
            report = runs.report(run.run_id)
        except Exception as exc:  # a run without its report still gets its bars and dots
            click.echo(f"warning: run {run.run_id} has no per-class report ({exc})", err=True)
        class_names = class_names or report.get("class_names")
        summaries.append(RunSummary(model=model, run_id=run.run_id, metrics=run.test_metrics(),
                                    per_class=report.get("per_class", {}),
                                    confusion_matrix=report.get("confusion_matrix")))
    if class_names is None:
        from fer_models.data.labels import CLASS_NAMES

        class_names = list(CLASS_NAMES)
    paths = comparison_charts(summaries, class_names, out_dir, dataset=dataset)
    _log_charts(runs.tracking_uri, dataset, paths, [s.run_id for s in summaries])
    return paths


def _log_charts(uri: str, dataset: str, paths: list[Path], run_ids: list[str]) -> None:
    """One run tagged ferbench.kind=comparison_charts (no `model` tag, so never ranked) holds the PNGs."""
    from fer_models.tracking.run_logger import RunLogger

    logger = RunLogger(uri)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    logger.open(dataset, run_id=None, run_name=f"comparison-{stamp}",
                tags={"ferbench.kind": "comparison_charts", "compared_runs": ",".join(run_ids)[:5000]})
    try:
        for path in paths:
            logger.log_artifact(path, "charts")
    except BaseException as exc:
        logger.finish("FAILED", error=str(exc))
        raise
    logger.finish("FINISHED")


COMMANDS: list[click.Command] = [train_command, evaluate_command, visualize_command]
