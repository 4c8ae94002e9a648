"""`ferbench reproduce writeup`: the write-up's models through the service, its table beside ours.

Submits one POST /experiments per write-up recipe (all seeds), waits with a progress line (finished / total,
ETA), then asks the API to make the report (POST /reports/writeup: stored, logged to MLflow, served at
GET /reports/writeup) and writes its Markdown and PNG to --out. Without --api-url it runs the embedded
stack, like `ferbench demo`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import click

from api.schemas import ExperimentOut, WriteupReportOut
from fer_models.errors import SpecError
from fer_models.training.spec import MAX_EPOCHS
from fer_models.vocabulary import FINISHED
from ferbench.cli.service_commands import api_url_option, describe_progress, embedded_stack, json_body, wait_for
from ferbench.client import ApiClient
from ferbench.reports.writeup_plan import (FULL_SEEDS, MAX_SEEDS, QUICK_RULE, QUICK_SEEDS, PlannedRun, choose_recipes,
                                           plan_runs)
from ferbench.settings import get_settings


class ProgressLine:
    """A line on stderr whenever the count of finished experiments or the running one's progress changes."""

    def __init__(self, total: int, echo: Callable[[str], None]) -> None:
        self.total, self.echo = total, echo
        self.started = time.monotonic()
        self.last: tuple[int, str] | None = None

    def __call__(self, current: list[ExperimentOut]) -> None:
        done = sum(e.status in FINISHED for e in current)
        running = next((describe_progress(json_body(e)) for e in current if e.status == "running"), "")
        if (done, running) == self.last:
            return
        self.last = (done, running)
        elapsed = time.monotonic() - self.started
        eta = f"ETA {_minutes(elapsed / done * (self.total - done))}" if done else "ETA after the first finishes"
        self.echo(f"[{done}/{self.total} finished, {_minutes(elapsed)} elapsed, {eta}]" + (f"  {running}" if running else ""))


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _without_missing_weights(planned: list[PlannedRun], echo: Callable[[str], None]) -> list[PlannedRun]:
    """The runs whose ImageNet weights this machine's Keras cache holds (the embedded worker reads that cache)."""
    from fer_models.models.weights import missing_imagenet_weights
    from fer_models.training.spec import parse_spec

    kept = []
    for run in planned:
        spec = parse_spec({k: v for k, v in run.body.items() if k != "repeats"})
        missing = None
        if spec.weights == "imagenet":
            missing = missing_imagenet_weights(spec.model, input_size=int(spec.input_size or 0),
                                               alpha=float(spec.hyperparameters.get("alpha", 1.0)))
        if missing:
            echo(f"skipping {run.model}: {missing} (or pass --weights none: the table then says 'from scratch')")
        else:
            kept.append(run)
    return kept


def _run(client: ApiClient, planned: list[PlannedRun], *, poll_s: float) -> WriteupReportOut:
    ids = [e.id for run in planned for e in client.submit(run.body)]
    click.echo(f"Submitted {len(ids)} experiment(s) for {len(planned)} model(s).", err=True)
    wait_for(client, ids, poll_s=poll_s, quiet=True, on_poll=ProgressLine(len(ids), lambda m: click.echo(m, err=True)))
    return client.make_writeup_report(ids)


def _save(client: ApiClient, report: WriteupReportOut, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "table.md", out / "table.png", out / "report.json"]
    paths[0].write_text(report.markdown)
    paths[1].write_bytes(client.writeup_png(report.id))
    paths[2].write_text(report.model_dump_json(indent=2))
    return paths


@click.group("reproduce")
def reproduce_group() -> None:
    """Reproduce a source's table through the service, its figures beside ours."""


@reproduce_group.command("writeup")
@click.option("--dataset", default="fer2013", show_default=True, help="Dataset to train and test on.")
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help=f"Seeds per model (ours is their mean ± std) [default: {FULL_SEEDS}; with --quick {QUICK_SEEDS}, "
                   "since the hour split over more seeds leaves each run too little time to learn].")
@click.option("--quick", is_flag=True, help=f"Scale every recipe down so that the whole table takes about an hour on "
                                             f"2 CPU cores: {QUICK_RULE}. The table's title says so.")
@click.option("--models", default=None, metavar="a,b,...", help="Only these write-up models (default: all 13).")
@click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS), default=None,
              help="Every model's epochs instead of the recipe's (and the quick rule's); such rows are marked quick.")
@click.option("--weights", type=click.Choice(["recipe", "none"]), default="recipe", show_default=True,
              help="recipe: ImageNet weights where the write-up used them (never downloaded: without --api-url, "
                   "models whose weights are not in Keras' cache are skipped, saying where to put them); "
                   "none: every model from scratch, each such row saying so.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/writeup"),
              show_default=True, help="Folder for table.md, table.png and report.json.")
@click.option("--poll", "poll_s", type=click.FloatRange(0.1, 60), default=2.0, show_default=True, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report (rows, markdown, quick) as JSON.")
@api_url_option
def writeup_command(dataset: str, seeds: int | None, quick: bool, models: str | None, epochs: int | None, weights: str,
                    out: Path, poll_s: float, as_json: bool, api_url: str | None) -> None:
    """Train the write-up's models with their writeup-* recipes through the service and print the write-up's
    table beside ours (accuracy and macro-F1 as mean ± std over seeds, training time, parameters)."""
    chosen = [m.strip() for m in models.split(",") if m.strip()] if models else None
    if seeds is None:
        seeds = QUICK_SEEDS if quick else FULL_SEEDS
    try:
        planned = plan_runs(choose_recipes(chosen), dataset=dataset, seeds=seeds, quick=quick, epochs=epochs,
                            weights=weights)  # type: ignore[arg-type]
    except SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--models") from None
    echo = lambda m: click.echo(m, err=True)  # noqa: E731 - progress and notes never mix with the table
    settings = get_settings()
    if api_url:
        with ApiClient.from_settings(settings, api_url) as client:
            report = _run(client, planned, poll_s=poll_s)
            paths = _save(client, report, out)
    else:
        planned = _without_missing_weights(planned, echo)
        if not planned:
            raise click.UsageError("no model left to train: put the ImageNet weights in Keras' cache or pass "
                                   "--weights none")
        with embedded_stack(settings, urls_to_stderr=True) as (_stack, urls):
            with ApiClient.from_settings(settings, urls.api) as client:
                report = _run(client, planned, poll_s=poll_s)
                paths = _save(client, report, out)
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        click.echo(report.markdown)
    echo("Wrote " + ", ".join(str(p) for p in paths))
    if report.mlflow_run_id:
        echo(f"MLflow run {report.mlflow_run_id} (experiment ferbench-reports)"
             + (f": {report.mlflow_url}" if report.mlflow_url else ""))
    else:
        raise click.ClickException(f"the report was not logged to MLflow: {report.mlflow_error}")


COMMANDS: list[click.Command] = [reproduce_group]
