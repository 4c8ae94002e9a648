"""`ferbench sweep` (start a hyperparameter search through the API), `ferbench sweeps` (list them),
`ferbench sweep-status ID` and `ferbench sweep-cancel ID`.

A space is given as `--space NAME=KIND:VALUES`, e.g. `learning_rate=log:1e-4..1e-2`,
`hp.filters=choice:16,32,64`, `epochs=int:2..8:2` (a step after a second colon), `weight_decay=float:0..1e-3`.
The API checks everything (and names every bad field); this module only turns the options into its body.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from api.schemas import SweepOut
from fer_models.errors import FerBenchError
from ferbench.cli.service_commands import _client, api_url_option

KINDS = ("choice", "int", "float", "log")


class BadSpace(FerBenchError):
    pass


def _scalar(text: str) -> Any:
    """A choice value: JSON when it parses as a number, true/false or null, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) or value is None else text


def parse_space(options: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`NAME=KIND:...` options to POST /sweeps' `space`; a malformed one is refused with the accepted forms."""
    forms = "NAME=choice:A,B,C | NAME=int:LOW..HIGH[:STEP] | NAME=float:LOW..HIGH[:STEP] | NAME=log:LOW..HIGH"
    space: dict[str, dict[str, Any]] = {}
    for option in options:
        name, _, rest = option.partition("=")
        kind, _, values = rest.partition(":")
        if not name or kind not in KINDS or not values:
            raise BadSpace(f"--space {option!r}: expected {forms}")
        if kind == "choice":
            space[name] = {"kind": kind, "values": [_scalar(v) for v in values.split(",") if v != ""]}
            continue
        bounds, _, step = values.partition(":")
        low, sep, high = bounds.partition("..")
        try:
            param: dict[str, Any] = {"kind": kind, "low": float(low), "high": float(high)}
            if step:
                param["step"] = float(step)
        except ValueError:
            raise BadSpace(f"--space {option!r}: LOW, HIGH and STEP must be numbers; expected {forms}") from None
        if not sep:
            raise BadSpace(f"--space {option!r}: a range is LOW..HIGH; expected {forms}")
        space[name] = param
    return space


def _summary(sweep: SweepOut) -> str:
    states = ", ".join(f"{n} {s}" for s, n in sorted(sweep.trial_states.items())) or "no trials yet"
    best = f"; best #{sweep.best.number} {sweep.objective}={sweep.best.value:.4f}" if sweep.best and sweep.best.value \
        is not None else ""
    return f"{sweep.id}  {sweep.status:<10} {sweep.model} on {sweep.dataset}: {states} of {sweep.n_trials}{best}"


def _print(sweep: SweepOut) -> None:
    click.echo(_summary(sweep))
    for trial in sweep.trials or []:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        click.echo(f"  #{trial.number:<3} {trial.state:<9} {value:>8}  {params}")
    if sweep.best and sweep.best.test_metrics:
        tests = ", ".join(f"{k} {v:.4f}" for k, v in sweep.best.test_metrics.items()
                          if v is not None and k in ("accuracy", "f1_macro"))
        click.echo(f"best trial's test metrics (reported, never tuned on): {tests}")


@click.command("sweep")
@click.option("--model", default=None, help="Model to tune (or give --recipe).")
@click.option("--recipe", default=None, help="Recipe to start from.")
@click.option("--dataset", default=None, help="Dataset (default: the spec's default, synthetic).")
@click.option("--epochs", type=int, default=None, help="Epochs of every trial.")
@click.option("--batch-size", type=int, default=None)
@click.option("--base", "base_json", default=None, metavar="JSON", help="More base spec fields, as a JSON object.")
@click.option("--space", "space", multiple=True, required=True, metavar="NAME=KIND:VALUES",
              help="A searched parameter (repeatable): learning_rate=log:1e-4..1e-2, hp.filters=choice:16,32,64, "
                   "epochs=int:2..8[:STEP], weight_decay=float:0..1e-3.")
@click.option("--trials", "n_trials", type=int, required=True, help="Trials in all.")
@click.option("--parallel", type=int, default=1, show_default=True, help="Trials run at once.")
@click.option("--sampler", type=click.Choice(["tpe", "random", "grid", "cmaes"]), default="tpe", show_default=True)
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median", show_default=True)
@click.option("--objective", default="val_accuracy", show_default=True, help="val_accuracy or val_loss.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Seeds (experiments) per trial.")
@click.option("--wait", is_flag=True, help="Poll until the sweep ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the sweep as JSON.")
@api_url_option
def sweep_command(model: str | None, recipe: str | None, dataset: str | None, epochs: int | None,
                  batch_size: int | None, base_json: str | None, space: tuple[str, ...], n_trials: int, parallel: int,
                  sampler: str, pruner: str, objective: str, seeds: int, wait: bool, as_json: bool,
                  api_url: str | None) -> None:
    """Search hyperparameters with Optuna: every trial is an experiment on the service's workers."""
    try:
        base = json.loads(base_json) if base_json else {}
    except ValueError as exc:
        raise BadSpace(f"--base is not a JSON object: {exc}") from None
    base.update({k: v for k, v in (("model", model), ("recipe", recipe), ("dataset", dataset), ("epochs", epochs),
                                   ("batch_size", batch_size)) if v is not None})
    body = {"base": base, "space": parse_space(space), "n_trials": n_trials, "parallel": parallel,
            "sampler": sampler, "pruner": pruner, "objective": objective, "seeds": seeds}
    with _client(api_url) as client:
        sweep = client.create_sweep(body)
        if not as_json:
            click.echo(_summary(sweep))
        while wait and sweep.status in ("running", "cancelling"):
            time.sleep(2.0)
            current = client.sweep(sweep.id)
            if not as_json and _summary(current) != _summary(sweep):
                click.echo(_summary(current))
            sweep = current
    if as_json:
        click.echo(json.dumps(sweep.model_dump(mode="json"), indent=2))
    elif wait:
        _print(sweep)


@click.command("sweeps")
@click.option("--status", default=None, help="Only sweeps in this status.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@api_url_option
def sweeps_command(status: str | None, limit: int, as_json: bool, api_url: str | None) -> None:
    """List sweeps, newest first, with their trial counts and best trial."""
    with _client(api_url) as client:
        listed = client.sweeps(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps(listed.model_dump(mode="json"), indent=2))
        return
    for sweep in listed.items:
        click.echo(_summary(sweep))
    if not listed.items:
        click.echo("no sweeps")


@click.command("sweep-status")
@click.argument("sweep_id")
@click.option("--json", "as_json", is_flag=True)
@api_url_option
def sweep_status_command(sweep_id: str, as_json: bool, api_url: str | None) -> None:
    """A sweep's status, every trial (values, state, objective) and the best trial's test metrics."""
    with _client(api_url) as client:
        sweep = client.sweep(sweep_id)
    if as_json:
        click.echo(json.dumps(sweep.model_dump(mode="json"), indent=2))
    else:
        _print(sweep)


@click.command("sweep-cancel")
@click.argument("sweep_id")
@api_url_option
def sweep_cancel_command(sweep_id: str, api_url: str | None) -> None:
    """Cancel a sweep: queued trials at once, running ones within a batch; no new trial starts."""
    with _client(api_url) as client:
        click.echo(_summary(client.cancel_sweep(sweep_id)))


COMMANDS = [sweep_command, sweeps_command, sweep_status_command, sweep_cancel_command]
