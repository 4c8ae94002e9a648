"""`ferbench ensemble` and `ferbench compare`: combine finished runs, and test whether two differ.

Without --api-url both work in-process on the service's database (settings.database_url): the ensemble
is combined and printed, not recorded. With --api-url the ensemble is queued through POST /ensembles
(a worker combines it into an experiment with its MLflow run and leaderboard row) and the comparison
comes from GET /compare.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from fer_models.errors import FerBenchError
from fer_models.vocabulary import METRICS
from ferbench.cli.service_commands import _client, api_url_option, wait_for
from ferbench.settings import get_settings


class EnsembleRefused(FerBenchError):
    pass


@contextmanager
def _session() -> Iterator[Session]:
    from ferbench.db.session import make_session_factory

    session = make_session_factory(get_settings().resolved_database_url)()
    try:
        yield session
    finally:
        session.close()


def _combine_here(ids: list[str], top: Any, method: str) -> dict[str, Any]:
    from fer_models.evaluation.ensemble_run import EnsembleSpec, build_ensemble
    from ferbench.db import ensembles, predictions

    with _session() as session:
        try:
            ids = ids or ensembles.top_members(session, top)
            members = ensembles.check_members(session, ids)
        except ensembles.Rejected as exc:
            raise EnsembleRefused(str(exc)) from None
        stored = predictions.load_predictions(session, ids)
    spec = EnsembleSpec(members=ids, method=method, split_fingerprint=members.split_fingerprint,  # type: ignore[arg-type]
                        protocol=members.protocol)
    built = build_ensemble(spec, stored)
    return {"members": ids, "method": method, "dataset": members.dataset, "split_fingerprint": members.split_fingerprint,
            "weights": built.weights, "metrics": built.metrics, "recorded": False}


def _print_metrics(metrics: dict[str, Any]) -> None:
    for name in ("accuracy", "f1_macro"):
        low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
        ci = f"  (95% CI {low:.4f}-{high:.4f})" if low is not None and high is not None else ""
        click.echo(f"  {name:<18} {metrics[name]:.4f}{ci}")
    for name in METRICS:
        if name not in ("accuracy", "f1_macro") and metrics.get(name) is not None:
            click.echo(f"  {name:<18} {metrics[name]:.4f}")


@click.command("ensemble")
@click.argument("experiment_ids", nargs=-1)
@click.option("--top", "k", type=click.IntRange(1, 50), default=None, help="Use the best K leaderboard entries instead of ids.")
@click.option("--dataset", default=None, help="With --top: the leaderboard's dataset (required).")
@click.option("--metric", default="accuracy", show_default=True, help="With --top: the ranking metric.")
@click.option("--model", default=None, help="With --top: only this model's entries.")
@click.option("--method", type=click.Choice(["mean", "weighted", "greedy"]), default="mean", show_default=True,
              help="mean: average; weighted: weights fitted on validation; greedy: Caruana selection on validation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@api_url_option
def ensemble_command(experiment_ids: tuple[str, ...], k: int | None, dataset: str | None, metric: str,
                     model: str | None, method: str, as_json: bool, api_url: str | None) -> None:
    """Combine finished experiments' predictions into an ensemble and evaluate it on their test split."""
    from ferbench.db.ensembles import TopQuery

    if bool(experiment_ids) == (k is not None):
        raise click.UsageError("give experiment ids or --top K (with --dataset), not both or neither")
    if k is not None and not dataset:
        raise click.UsageError("--top needs --dataset: the leaderboard to take the best entries of")
    top = TopQuery(dataset=dataset or "", k=k or 0, metric=metric, model=model) if k is not None else None
    if api_url is None:
        result = _combine_here(list(experiment_ids), top, method)
    else:
        body: dict[str, Any] = {"method": method}
        if top is not None:
            body["top"] = {k_: v for k_, v in dataclasses.asdict(top).items() if v is not None}
        else:
            body["members"] = list(experiment_ids)
        with _client(api_url) as client:
            queued = client.create_ensemble(body)
            (done,) = wait_for(client, [queued.id], quiet=as_json)
        if done.status != "succeeded":
            raise EnsembleRefused(f"ensemble {done.id} {done.status}: {done.error}")
        result = {"id": done.id, "members": done.spec["ensemble"]["members"], "method": method,
                  "dataset": done.dataset, "split_fingerprint": done.split_fingerprint, "metrics": done.metrics,
                  "mlflow_url": done.mlflow_url, "recorded": True}
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    click.echo(f"Ensemble ({method}) of {len(result['members'])} members on {result['dataset']}"
               f"{'' if result['recorded'] else ' (in-process, not recorded: pass --api-url to queue it)'}:")
    for member, weight in (result.get("weights") or {}).items():
        click.echo(f"  member {member}  weight {weight:.3f}")
    _print_metrics(result["metrics"])
    if result.get("mlflow_url"):
        click.echo(f"MLflow run: {result['mlflow_url']}")


@click.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@api_url_option
def compare_command(a: str, b: str, as_json: bool, api_url: str | None) -> None:
    """Is A better than B? Paired differences on the same test images, with McNemar's exact test."""
    if api_url is None:
        from ferbench.db import ensembles, predictions

        with _session() as session:
            try:
                ensembles.check_members(session, [a, b])
                body = {"a": a, "b": b, **dataclasses.asdict(predictions.compare_experiments(session, a, b))}
            except (ensembles.Rejected, ValueError) as exc:
                raise EnsembleRefused(str(exc)) from None
    else:
        with _client(api_url) as client:
            body = client.compare(a, b)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    verdict = "differ" if body["mcnemar_p"] < 0.05 else "do not differ"
    click.echo(f"A {a}\nB {b}\non the same {body['n']} test images (differences are A minus B):")
    for name in ("accuracy", "f1_macro"):
        low, high = body[f"{name}_diff_ci"]
        click.echo(f"  {name:<10} A {body[f'{name}_a']:.4f}  B {body[f'{name}_b']:.4f}  "
                   f"difference {body[f'{name}_diff']:+.4f}  95% CI [{low:+.4f}, {high:+.4f}]")
    click.echo(f"  McNemar's exact test: p = {body['mcnemar_p']:.4g} ({body['n01']} images only B got right, "
               f"{body['n10']} only A): A and B {verdict} at 5%")
    click.echo("  per-class F1 difference: " + ", ".join(f"{c} {d:+.3f}" for c, d in body["per_class_f1_diff"].items()))


COMMANDS = [ensemble_command, compare_command]
