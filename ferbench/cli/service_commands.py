"""`ferbench up | submit | status | leaderboard | demo`: the service from the command line.

`up` and `demo` run the stack (ferbench.stack); the others talk to a running API through
ferbench.client, so they work the same against `ferbench up`, docker compose or a remote server
(--api-url). What they print is read from the API's JSON bodies, the same that `--json` prints.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from api.schemas import ExperimentOut, LeaderboardEntryOut
from fer_models.errors import FerBenchError
from fer_models.vocabulary import FINISHED, PROTOCOLS
from ferbench.cli.formatting import format_metric
from ferbench.cli.options import parse_hyperparameters
from ferbench.client import ApiClient, ApiError
from ferbench.settings import Settings, get_settings

# The write-up's comparison, smallest first. The default demo keeps to models that train in about
# a minute each on 2 CPU cores; --models adds the heavy ones (vgg19, resnet50, ...).
DEMO_MODELS = ("cnn-small", "cnn-lstm", "cnn-attention", "mini-xception", "mobilenet")
DEMO_EPOCHS = 3


def api_url_option(func: Any) -> Any:
    return click.option(
        "--api-url", default=None, metavar="URL", help="Base URL of the API (default http://FERBENCH_API_HOST:FERBENCH_API_PORT)."
    )(func)


def _client(api_url: str | None) -> ApiClient:
    return ApiClient.from_settings(get_settings(), api_url)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def json_body(exp: ExperimentOut) -> dict[str, Any]:
    """The experiment's body as the API sends it: what --json prints and the lines below read."""
    return exp.model_dump(mode="json")


def describe_progress(exp: Mapping[str, Any]) -> str:
    """One line: status, epoch k/n, latest metrics (whatever of them the API reports)."""
    parts = [f"{exp.get('id', '?')} {exp.get('model', '')} {exp.get('status')}"]
    progress = exp.get("progress") or {}
    if progress.get("epoch") is not None and progress.get("epochs"):
        parts.append(f"epoch {progress['epoch']}/{progress['epochs']}")
    metrics = progress.get("metrics") or {}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if isinstance(metrics.get(key), int | float):
            parts.append(f"{key} {metrics[key]:.3f}")
    if isinstance(progress.get("eta_seconds"), int | float):
        parts.append(f"eta {progress['eta_seconds']:.0f}s")
    if exp.get("status") == "failed" and exp.get("error"):
        parts.append(f"error: {exp['error']}")
    return "  ".join(parts)


def metric_lines(metrics: dict[str, Any]) -> list[str]:
    return [f"  {key:<20} {format_metric(key, value)}" for key, value in sorted(metrics.items())]


def describe_outcome(exp: Mapping[str, Any]) -> str:
    """The last line `submit` prints for an experiment: id, status and, once there, the test accuracy."""
    accuracy = (exp.get("metrics") or {}).get("accuracy")
    shown = f"  test accuracy {format_metric('accuracy', accuracy)}" if accuracy is not None else ""
    return f"{exp['id']}  {exp.get('status')}{shown}"


PROTOCOL_NOTES = {"official": "the dataset's own test images, e.g. FER2013's PublicTest+PrivateTest",
                  "holdout": "a test set carved 80/10/10 from the pool"}


def print_leaderboard(entries: Sequence[LeaderboardEntryOut], metric: str, protocol: str | None = None) -> None:
    """The ranking as a table under a line naming its protocol (one ranking never mixes two)."""
    if not entries:
        click.echo("The leaderboard is empty (no finished experiment matches).")
        return
    protocol = protocol or entries[0].protocol
    click.echo(f"Protocol: {protocol} ({PROTOCOL_NOTES.get(protocol, '')})")
    click.echo(f"{'#':>3}  {'model':<16} {'dataset':<12} {'recipe':<16} {metric:>18}  {'95% CI':>15}  {'seeds':>5}  "
               "experiment")
    for entry in entries:
        value = f"{entry.mean:.4f} ± {entry.std:.4f}" if entry.std is not None else f"{entry.mean:.4f}"
        interval = entry.mean_ci or entry.ci  # over seeds when there are several, else over test images
        ci = f"{interval[0]:.4f}-{interval[1]:.4f}" if interval else "-"
        tied = " ~" if entry.differs_from_top is False else ""
        click.echo(f"{entry.rank:>3}  {entry.model:<16} {entry.dataset:<12} {entry.recipe or '-':<16} {value:>18}  "
                   f"{ci:>15}  {entry.n_seeds!s:>5}  {entry.experiment_id}{tied}")
    if any(e.differs_from_top is False for e in entries):
        click.echo("~ not significantly different from #1 at 5% (McNemar's exact test on the same test images)")


def wait_for(client: ApiClient, ids: list[str], *, poll_s: float = 1.0, timeout_s: float | None = None,
             quiet: bool = False, on_poll: Callable[[list[ExperimentOut]], None] | None = None) -> list[ExperimentOut]:
    """Poll until every experiment is finished, printing a line whenever one's progress changes (unless
    `quiet`) and handing every poll's experiments to `on_poll`."""
    last: dict[str, str] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        current = [client.experiment(i) for i in ids]
        if on_poll is not None:
            on_poll(current)
        for exp in current:
            line = describe_progress(json_body(exp))
            if not quiet and last.get(exp.id) != line:
                click.echo(line)
                last[exp.id] = line
        running = [exp.id for exp in current if exp.status not in FINISHED]
        if not running:
            return current
        if deadline is not None and time.monotonic() > deadline:
            raise ApiError(f"experiments still running after {timeout_s:.0f} s: {', '.join(running)}")
        time.sleep(poll_s)


def spec_body(*, model: str, dataset: str | None, epochs: int | None, batch_size: int | None, learning_rate: float | None,
              optimizer: str | None, seed: int | None, hyperparameters: dict[str, Any] | None, repeats: int) -> dict[str, Any]:
    """The POST /experiments body: only what the user gave, so the server's defaults apply to the rest."""
    body: dict[str, Any] = {"model": model}
    for key, value in (("dataset", dataset), ("epochs", epochs), ("batch_size", batch_size), ("learning_rate", learning_rate),
                       ("optimizer", optimizer), ("seed", seed), ("hyperparameters", hyperparameters)):
        if value is not None:
            body[key] = value
    if repeats > 1:
        body["repeats"] = repeats
    return body


def _sigterm_interrupts() -> None:
    """SIGTERM (a service manager, `timeout`) unwinds like Ctrl-C, so the stack is stopped, not orphaned."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _stop_stack(stack: Any) -> None:
    """Stop every child; further Ctrl-C/SIGTERM while stopping must not leave half of them running."""
    click.echo("stopping…", err=True)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- commands ---------------------------------------------------------------------------------------
@click.command("up")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes to start.")
@click.option("--gpus", default=None, metavar="0,1,...", help="One worker per listed GPU, each with its own CUDA_VISIBLE_DEVICES.")
def up_command(workers: int, gpus: str | None) -> None:
    """Start the whole stack (tracking server, Redis, worker, API) until Ctrl-C."""
    from ferbench.stack import Stack

    gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
    stack = Stack(get_settings(), workers=workers, gpus=gpu_list, echo=lambda m: click.echo(f"· {m}", err=True))
    _sigterm_interrupts()
    urls = stack.start()
    try:
        _print_urls(urls)
        click.echo("Press Ctrl-C to stop.", err=True)
        code = stack.wait()
    finally:
        _stop_stack(stack)
    raise SystemExit(code)


def _print_urls(urls: Any, *, err: bool = False) -> None:
    click.echo(f"Web pages:    {urls.api}/", err=err)  # first: where a person starts
    click.echo(f"API docs:     {urls.docs}", err=err)
    click.echo(f"MLflow UI:    {urls.mlflow_ui}", err=err)
    click.echo(f"Leaderboard:  {urls.leaderboard}", err=err)
    click.echo(f"API:          {urls.api}   broker: {urls.broker}   database: {urls.database}", err=err)
    if urls.serve:
        click.echo(f"Predictions:  {urls.api}/predict (serving process {urls.serve})", err=err)


@contextmanager
def embedded_stack(settings: Settings, *, urls_to_stderr: bool = False) -> Iterator[tuple[Any, Any]]:
    """The whole stack on embedded defaults for one command (`demo`, `reproduce`): (stack, urls), stopped after."""
    from ferbench.stack import Stack

    stack = Stack(settings, echo=lambda m: click.echo(f"· {m}", err=True))
    _sigterm_interrupts()
    urls = stack.start()
    try:
        _print_urls(urls, err=urls_to_stderr)
        yield stack, urls
    finally:
        _stop_stack(stack)


@click.command("submit")
@click.option("--model", required=True, help="Model name (see `ferbench models`).")
@click.option("--dataset", default=None, help="Dataset name (default: the server's, synthetic).")
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--optimizer", default=None)
@click.option("--seed", type=int, default=None)
@click.option("--hp", "hp", multiple=True, metavar="NAME=VALUE", help="A model hyperparameter; repeat for several.")
@click.option("--repeats", type=click.IntRange(1, 100), default=1, show_default=True, help="Run the spec with this many seeds.")
@click.option("--wait", is_flag=True, help="Wait until the experiments finish, printing progress.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@api_url_option
def submit_command(model: str, dataset: str | None, epochs: int | None, batch_size: int | None, learning_rate: float | None,
                   optimizer: str | None, seed: int | None, hp: tuple[str, ...], repeats: int, wait: bool,
                   as_json: bool, api_url: str | None) -> None:
    """Submit an experiment (or REPEATS of it with different seeds) to the API."""
    body = spec_body(model=model, dataset=dataset, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                     optimizer=optimizer, seed=seed, hyperparameters=parse_hyperparameters(hp) or None, repeats=repeats)
    with _client(api_url) as client:
        experiments = client.submit(body)
        if wait:
            experiments = wait_for(client, [e.id for e in experiments], quiet=as_json)
    bodies = [json_body(e) for e in experiments]
    if as_json:
        _echo_json(bodies)
    else:
        for exp in bodies:
            click.echo(describe_outcome(exp))


@click.command("status")
@click.argument("experiment_id")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as JSON.")
@api_url_option
def status_command(experiment_id: str, as_json: bool, api_url: str | None) -> None:
    """Show an experiment's status, progress, metrics and MLflow run."""
    with _client(api_url) as client:
        exp = client.experiment(experiment_id)
    if as_json:
        _echo_json(json_body(exp))
        return
    click.echo(describe_progress(json_body(exp)))
    for line in metric_lines(exp.metrics or {}):
        click.echo(line)
    if exp.mlflow_url or exp.mlflow_run_id:
        click.echo(f"  MLflow: {exp.mlflow_url or exp.mlflow_run_id}")


@click.command("leaderboard")
@click.option("--metric", default="accuracy", show_default=True, help="Metric to rank by (DESIGN.md names).")
@click.option("--dataset", default=None)
@click.option("--model", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--best-per-model", is_flag=True)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default=None,
              help="official: the dataset's own test images; holdout: a carved 80/10/10 test set. "
                   "Default: official when there are official results, else holdout (never both in one ranking).")
@click.option("--recipe", default=None, help="Only specs resolved from this named recipe.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@api_url_option
def leaderboard_command(metric: str, dataset: str | None, model: str | None, limit: int, best_per_model: bool,
                        protocol: str | None, recipe: str | None, as_json: bool, api_url: str | None) -> None:
    """Rank finished experiments by a metric, within one evaluation protocol."""
    with _client(api_url) as client:
        board = client.leaderboard(metric=metric, dataset=dataset, model=model, limit=limit,
                                   best_per_model=best_per_model, protocol=protocol, recipe=recipe)
    if as_json:
        _echo_json([entry.model_dump(mode="json") for entry in board.entries])
    else:
        print_leaderboard(board.entries, metric, board.protocol)


@click.command("demo")
@click.option("--models", default=",".join(DEMO_MODELS), show_default=True, help="Comma-separated models to compare.")
@click.option("--epochs", type=click.IntRange(min=1), default=DEMO_EPOCHS, show_default=True,
              help="Epochs per model (the API states its cap).")
@click.option("--repeats", type=click.IntRange(1, 10), default=1, show_default=True, help="Seeds per model.")
@click.option("--dataset", default=None, help="Default: fer2013 when it is in the data folder, else synthetic.")
@click.option("--keep-running", is_flag=True, help="Leave the stack running after the leaderboard (Ctrl-C stops it).")
def demo_command(models: str, epochs: int, repeats: int, dataset: str | None, keep_running: bool) -> None:
    """Start the stack, run the model comparison, print the leaderboard."""
    settings = get_settings()
    dataset = dataset or _demo_dataset(settings)
    code = 0
    with embedded_stack(settings) as (stack, urls):
        client = ApiClient.from_settings(settings, urls.api)
        known = {m.name for m in client.models()}
        chosen = [m.strip() for m in models.split(",") if m.strip()]
        missing = [m for m in chosen if m not in known]
        if missing:
            raise click.BadParameter(f"unknown model(s) {', '.join(missing)}; available: {', '.join(sorted(known))}", param_hint="--models")
        click.echo(f"Comparing {', '.join(chosen)} on {dataset}, {epochs} epoch(s), {repeats} seed(s) each.")
        ids = [e.id for m in chosen for e in client.submit({"model": m, "dataset": dataset, "epochs": epochs,
                                                             **({"repeats": repeats} if repeats > 1 else {})})]
        finished = wait_for(client, ids, poll_s=2.0)
        failed = [e for e in finished if e.status != "succeeded"]
        click.echo("")
        print_leaderboard(client.leaderboard(metric="accuracy", dataset=dataset, limit=50).entries, "accuracy")
        click.echo(f"\nCompare the runs in the MLflow UI: {urls.mlflow_ui}")
        if failed:
            click.echo(f"{len(failed)} experiment(s) did not succeed: "
                       + "; ".join(describe_progress(json_body(e)) for e in failed), err=True)
            code = 1
        client.close()
        if keep_running:
            click.echo("The stack keeps running; press Ctrl-C to stop it.", err=True)
            code = stack.wait() or code
    raise SystemExit(code)


def _demo_dataset(settings: Settings) -> str:
    try:
        from fer_models.data.catalog import dataset_names

        return "fer2013" if "fer2013" in dataset_names(Path(settings.data_dir)) else "synthetic"
    except FerBenchError:
        return "synthetic"


COMMANDS: list[click.Command] = [up_command, submit_command, status_command, leaderboard_command, demo_command]
