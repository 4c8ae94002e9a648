"""Alembic environment: the URL comes from the in-code config (ferbench.db.migrate.alembic_config)."""

from __future__ import annotations

from alembic import context

from ferbench.db.models import Base
from ferbench.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    engine = engine.execution_options() if engine.pool is None else engine
    with engine.connect() as connection:
        # render_as_batch: SQLite cannot ALTER most things; later migrations rewrite tables instead.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
