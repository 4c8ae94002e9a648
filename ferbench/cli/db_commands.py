"""`ferbench db ...`: schema migrations (the prestart step: run once before the API and workers)."""

from __future__ import annotations

import json

import click

from ferbench.settings import get_settings
from ferbench.urls import redact_url


@click.group("db")
def db() -> None:
    """Database schema: apply migrations, show the current revision."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to")
def upgrade_command(revision: str) -> None:
    """Create or migrate the experiments/results tables (the API and workers never migrate by themselves)."""
    from ferbench.db.migrate import upgrade

    url = get_settings().resolved_database_url
    try:
        upgrade(url, revision)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        raise click.ClickException(f"could not migrate {redact_url(url)}: {type(exc).__name__}: {exc}") from exc
    click.echo(f"database {redact_url(url)} is at revision {revision}")


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def current_command(as_json: bool) -> None:
    """Show the schema revision of the configured database (none: not migrated yet)."""
    from ferbench.db.migrate import current_revision

    url = get_settings().resolved_database_url
    try:
        revision = current_revision(url)
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"could not read {redact_url(url)}: {type(exc).__name__}: {exc}") from exc
    if as_json:
        click.echo(json.dumps({"database": redact_url(url), "revision": revision}))
    else:
        click.echo(revision or "none (run `ferbench db upgrade`)")


COMMANDS: list[click.Command] = [db]
