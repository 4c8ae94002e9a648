"""Entry point of `ferbench`: assembles the subcommands and turns known errors into one line."""

from __future__ import annotations

import os
import sys

import click

from fer_models.errors import FerBenchError
from ferbench.cli import (data_commands, db_commands, ensemble_commands, experiment_commands, model_commands,
                          reproduce_commands, service_commands, serving_commands, sweep_commands)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferbench")
def cli() -> None:
    """FER Bench: train, evaluate and rank facial emotion recognition models."""


for _module in (data_commands, model_commands, experiment_commands, service_commands, ensemble_commands,
                reproduce_commands, db_commands, sweep_commands, serving_commands):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def _quiet_mlflow() -> None:
    """MLflow logs at INFO on stderr (store creation, migrations); a command's output is its own.

    MLflow reads the level once, when it is imported (lazily, by the commands); a user's setting wins.
    """
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def main(argv: list[str] | None = None) -> None:
    _quiet_mlflow()
    try:
        cli.main(args=argv, prog_name="ferbench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FerBenchError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
