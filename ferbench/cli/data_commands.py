"""`ferbench preprocess` (decode a dataset once into the cache, print its data report), `ferbench datasets`
and `ferbench datasets fetch`."""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fer_models.data.catalog import DEFAULT_SPLIT_SEED, list_datasets, load_dataset
from fer_models.data.report import DataReport, dataset_report
from ferbench.cli.service_commands import _client, api_url_option
from ferbench.dataset_pack import pack_folder
from ferbench.kaggle_fetch import HOW_TO_GET_A_TOKEN, KAGGLE_DATASETS, FetchError, fetch, find_credentials
from ferbench.settings import get_settings


@click.command("preprocess")
@click.option("--dataset", "name", default="fer2013", show_default=True,
              help="Dataset name: fer2013, synthetic, or a folder under the data folder.")
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="Read this CSV, folder or .zip instead of looking under FERBENCH_DATA_DIR.")
@click.option("--skip-bad", is_flag=True, help="Skip (and count) malformed CSV rows instead of failing.")
@click.option("--split-seed", type=int, default=DEFAULT_SPLIT_SEED, show_default=True,
              help="Seed of the stratified split where the source has none.")
@click.option("--json", "as_json", is_flag=True, help="Print the data report as JSON.")
def preprocess_command(name: str, source: Path | None, skip_bad: bool, split_seed: int, as_json: bool) -> None:
    """Decode a dataset once into the cache (reused while the source is unchanged) and print its data report."""
    settings = get_settings()
    console = Console(stderr=True)  # progress and warnings on stderr: stdout carries the report
    with Progress(TextColumn(f"decoding {name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=as_json, transient=True) as bar:
        task = bar.add_task("decode", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logging.getLogger("fer_models.data").setLevel(logging.ERROR)  # warnings are shown once, below
            dataset = load_dataset(name, data_dir=Path(settings.data_dir), cache_dir=Path(settings.cache_dir),
                                   source=source, split_seed=split_seed, progress=progress, skip_bad=skip_bad)
    for warning in caught:
        console.print(f"[yellow]warning:[/yellow] {warning.message}")
    report = dataset_report(dataset)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.to_text())


@click.group("datasets", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON (what GET /datasets returns).")
@click.pass_context
def datasets_command(ctx: click.Context, as_json: bool) -> None:
    """List datasets: whether present, classes, split sizes, where found or how to get them."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    infos = list_datasets(Path(settings.data_dir), Path(settings.cache_dir))
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    table = Table(title=f"FER Bench datasets (data folder {settings.data_dir})")
    for column in ("name", "present", "split sizes (train/val/test)", "where / how to get"):
        table.add_column(column)
    for info in infos:
        sizes = ("/".join(str(info.split_sizes[s]) for s in ("train", "val", "test")) if info.split_sizes
                 else "not decoded yet")
        table.add_row(info.name, "yes" if info.present else "no", sizes,
                      (info.source or "") if info.present else info.how_to_get)
    Console().print(table)
    click.echo(f"classes: {', '.join(infos[0].classes)}" if infos else "")


@datasets_command.command("fetch")
@click.argument("name", type=click.Choice(sorted(KAGGLE_DATASETS)))
@click.option("--force", is_flag=True, help="Download even when the dataset is already present.")
def fetch_command(name: str, force: bool) -> None:
    """Download NAME from Kaggle into the data folder (needs a Kaggle account's API token)."""
    settings = get_settings()
    data_dir = Path(settings.data_dir)
    present = {info.name: info for info in list_datasets(data_dir, Path(settings.cache_dir))}
    if present.get(name) and present[name].present and not force:
        click.echo(f"{name} is already present ({present[name].source}); pass --force to download it again.")
        return
    credentials = find_credentials()
    if credentials is None:
        raise FetchError(f"no Kaggle credentials: {HOW_TO_GET_A_TOKEN}; or download "
                         f"https://www.kaggle.com/datasets/{KAGGLE_DATASETS[name]} by hand and put the zip in {data_dir}")
    with Progress(TextColumn(f"downloading {name}"), BarColumn(), TextColumn("{task.completed:,.0f} bytes"),
                  transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(name, total=None)
        path = fetch(name, data_dir, api_url=settings.kaggle_api_url, credentials=credentials, force=True,
                     on_bytes=lambda done, total: bar.update(task, completed=done, total=total))
    click.echo(f"Downloaded {name} to {path} ({path.stat().st_size / 1e6:.1f} MB); `ferbench preprocess --dataset "
               f"{name}` decodes it once, or the first experiment on it does.")


@datasets_command.command("upload")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="Dataset name (default: the file or folder's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@api_url_option
def upload_command(path: Path, name: str | None, as_json: bool, api_url: str | None) -> None:
    """Register PATH (a .zip, a .csv, or a folder, packed as a zip) with the API, so that every worker can
    train on it: decoded once on the server, its cache kept in the tracking server's artifact store."""
    with tempfile.TemporaryDirectory(prefix="ferbench-pack-") as tmp:
        sent = pack_folder(path, Path(tmp)) if path.is_dir() else path
        with _client(api_url) as client:
            answer = client.upload_dataset(sent, name)
    if as_json:
        click.echo(answer.model_dump_json(indent=2))
        return
    click.echo(answer.message)
    click.echo(f"usable on: {answer.dataset.usable_on}")
    click.echo(DataReport.from_dict(answer.report).to_text())


COMMANDS: list[click.Command] = [preprocess_command, datasets_command]
