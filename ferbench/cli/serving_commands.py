"""`ferbench promote`, `ferbench predict` and `ferbench serve`: from a leaderboard row to emotions on photos.

promote and predict go through the API (POST /registry/promote, POST /predict); serve is the serving
process the API forwards predictions to (the one place that loads Keras models for them).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from fer_models.errors import FerBenchError
from fer_models.tracking.model_registry import DEFAULT_ALIAS, DEFAULT_MODEL_NAME
from ferbench.cli.service_commands import _client, api_url_option
from ferbench.settings import get_settings


@click.command("promote")
@click.argument("experiment_id")
@click.option("--name", default=DEFAULT_MODEL_NAME, show_default=True, help="Registered model to add a version to.")
@click.option("--alias", default=DEFAULT_ALIAS, show_default=True, help="Alias moved onto the new version.")
@click.option("--json", "as_json", is_flag=True, help="Print the new version as JSON.")
@api_url_option
def promote_command(experiment_id: str, name: str, alias: str, as_json: bool, api_url: str | None) -> None:
    """Register a succeeded experiment's model in MLflow's registry and point an alias at it."""
    with _client(api_url) as client:
        version = client.promote(experiment_id, name=name, alias=alias)
    if as_json:
        click.echo(json.dumps(version.model_dump(mode="json"), indent=2))
        return
    accuracy = version.tags.get("test_accuracy", "unknown")
    click.echo(f"{name} version {version.version} <- experiment {experiment_id} (test accuracy {accuracy}); "
               f"alias {alias!r} now points at it")


def _read(paths: tuple[Path, ...]) -> list[tuple[str, bytes]]:
    files = []
    for path in paths:
        try:
            files.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise FerBenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    return files


@click.command("predict")
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", "model_ref", default=DEFAULT_ALIAS, show_default=True,
              help="Alias, version number or experiment id of the registered model.")
@click.option("--annotate", "annotate_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the photo with boxes and labels to this PNG (one photo only).")
@click.option("--cropped", is_flag=True, help="Each photo is one already-cropped face: no detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@api_url_option
def predict_command(photos: tuple[Path, ...], model_ref: str, annotate_out: Path | None, cropped: bool,
                    as_json: bool, api_url: str | None) -> None:
    """Find the faces in PHOTOS and predict each one's emotion with a registered model."""
    if annotate_out is not None and len(photos) != 1:
        raise click.UsageError("--annotate draws on one photo; give exactly one")
    files = _read(photos)
    with _client(api_url) as client:
        if annotate_out is not None:
            png = client.predict(files, model=model_ref, annotate=True, cropped=cropped)
            annotate_out.write_bytes(png)  # type: ignore[arg-type]
        answer = client.predict(files, model=model_ref, cropped=cropped)
    if as_json:
        click.echo(json.dumps(answer.model_dump(mode="json"), indent=2))  # type: ignore[union-attr]
        return
    served = answer.model  # type: ignore[union-attr]
    click.echo(f"model {served.name} version {served.version} ({served.reference})")
    for image in answer.images:  # type: ignore[union-attr]
        faces = image.faces
        click.echo(f"{image.filename}: {len(faces)} face(s)" + "".join(f"; {n}" for n in image.notes))
        for face in faces:
            b = face.box
            click.echo(f"  at x={b.x} y={b.y} {b.width}x{b.height}: {face.emotion} "
                       f"({face.probabilities[face.emotion]:.0%})")
    if annotate_out is not None:
        click.echo(f"annotated photo: {annotate_out}")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default FERBENCH_SERVE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default FERBENCH_SERVE_PORT).")
def serve_command(host: str | None, port: int | None) -> None:
    """Run the serving process: registered models loaded once, kept warm, reloaded when their alias moves."""
    import os

    import uvicorn

    settings = get_settings()
    if not settings.mlflow_tracking_uri:
        raise FerBenchError("ferbench serve needs MLFLOW_TRACKING_URI (the registry it serves from); "
                            "`ferbench up` sets it for the serving process it starts")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from ferbench.serving.app import create_serve_app

    uvicorn.run(create_serve_app(settings), host=host or settings.serve_host, port=port or settings.serve_port,
                log_level="warning", access_log=False)


COMMANDS = [promote_command, predict_command, serve_command]
