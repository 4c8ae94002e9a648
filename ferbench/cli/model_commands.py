"""`ferbench models`: the model catalogue, read from the TF-free registry (Keras only with --params)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from fer_models.models.registry import ModelInfo, get_model_info, get_model, list_model_infos
from fer_models.training.recipes import Recipe, get_recipe, list_recipes


def _params_at_default(info: ModelInfo) -> int:
    model = get_model(info.name)
    return int(model.count_params())


def _catalogue_table(infos: list[ModelInfo], params: dict[str, int]) -> Table:
    # Light borders and short headers leave an 80-column terminal room to wrap descriptions at spaces;
    # a boxed table with a minimum description width was wider than 80 and got cropped mid-word.
    table = Table(title="FER Bench models", caption="input: minimum/default size in pixels", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ("name", "family", "input", "ImageNet"):
        table.add_column(column, no_wrap=True)
    if params:
        table.add_column("params", justify="right", no_wrap=True)
    table.add_column("description")
    for info in infos:
        row = [info.name, info.family, f"{info.min_input_size}/{info.default_input_size}",
               "yes" if info.imagenet_weights else "no"]
        if params:
            row.append(f"{params[info.name]:,}")
        table.add_row(*row, info.description)
    return table


def _hyperparameter_table(info: ModelInfo) -> Table:
    table = Table(title=f"{info.name} hyperparameters")
    for column in ("name", "type", "default", "accepted", "description"):
        table.add_column(column)
    for hp in info.hyperparameters:
        table.add_row(hp.name, hp.type, repr(hp.default), hp.accepted(), hp.description)
    return table


@click.command("models")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON (what GET /models returns).")
@click.option("--params", is_flag=True, help="Also build each model at its default input size to count parameters (slow).")
def models_command(name: str | None, as_json: bool, params: bool) -> None:
    """List the model zoo, or show one model's hyperparameters with NAME."""
    infos = [get_model_info(name)] if name else list_model_infos()
    counts: dict[str, int] = {info.name: _params_at_default(info) for info in infos} if params else {}
    if as_json:
        docs: list[dict[str, Any]] = []
        for info in infos:
            doc = info.to_dict()
            if counts:
                doc["params"] = counts[info.name]
            docs.append(doc)
        click.echo(json.dumps(docs[0] if name else docs, indent=2))
        return
    console = Console()
    console.print(_catalogue_table(infos, counts))
    if name:
        console.print(_hyperparameter_table(infos[0]))


def _recipe_table(recipes: list[Recipe]) -> Table:
    table = Table(title="FER Bench recipes", caption="reported: the figure the source gives, on its test set",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    # The model is in the name or the summary; the columns an 80-column terminal has room for.
    for column in ("name", "reported"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary")
    for recipe in recipes:
        reported = recipe.reported
        figure = f"{reported.accuracy:.1%}" if reported and reported.accuracy is not None else "-"
        table.add_row(recipe.name, figure, recipe.summary)
    return table


def _recipe_detail(recipe: Recipe) -> Table:
    table = Table(title=f"{recipe.name}: every setting it trains with", box=box.SIMPLE_HEAD)
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    for key, value in recipe.to_dict()["spec"].items():
        table.add_row(key, json.dumps(value))
    return table


@click.command("recipes")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the recipes as JSON (what GET /recipes returns).")
def recipes_command(name: str | None, as_json: bool) -> None:
    """List the named recipes (`ferbench train --recipe NAME`), or show every setting of one with NAME."""
    recipes = [get_recipe(name)] if name else list_recipes()
    if as_json:
        docs = [recipe.to_dict() for recipe in recipes]
        click.echo(json.dumps(docs[0] if name else docs, indent=2))
        return
    console = Console()
    console.print(_recipe_table(recipes))
    if name:
        recipe = recipes[0]
        console.print(f"Source: {recipe.source}")
        if recipe.notes:
            console.print(recipe.notes)
        console.print(_recipe_detail(recipe))


COMMANDS: list[click.Command] = [models_command, recipes_command]
