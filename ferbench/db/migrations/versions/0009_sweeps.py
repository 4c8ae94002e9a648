"""sweeps: the sweeps and sweep_trials tables, experiments' sweep_id and trial_number, and Optuna's study tables

Revision ID: 0009
Revises: 0008

A sweep's study lives in Optuna's relational storage on this same database. Its tables are created
here from Optuna's own models (optuna is pinned in pyproject.toml), so that no API or worker process
ever creates tables: they open the storage with table creation and Optuna's own version check off
(Optuna's check reads `alembic_version`, which on this database holds our revision, not Optuna's).
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _optuna_metadata() -> sa.MetaData:
    from optuna.storages._rdb import models

    return models.BaseModel.metadata


def upgrade() -> None:
    op.create_table(
        'sweeps',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('model', sa.String(length=64), nullable=False),
        sa.Column('dataset', sa.String(length=64), nullable=False),
        sa.Column('base_spec', sa.JSON(), nullable=False),
        sa.Column('space', sa.JSON(), nullable=False),
        sa.Column('sampler', sa.String(length=16), nullable=False),
        sa.Column('sampler_seed', sa.Integer(), nullable=False),
        sa.Column('pruner', sa.JSON(), nullable=False),
        sa.Column('objective', sa.String(length=32), nullable=False),
        sa.Column('direction', sa.String(length=8), nullable=False),
        sa.Column('n_trials', sa.Integer(), nullable=False),
        sa.Column('parallel', sa.Integer(), nullable=False),
        sa.Column('seeds', sa.Integer(), nullable=False),
        sa.Column('study_name', sa.String(length=64), nullable=False),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('study_name', name='uq_sweeps_study'),
    )
    op.create_index('ix_sweeps_created', 'sweeps', ['created_at'])
    op.create_table(
        'sweep_trials',
        sa.Column('sweep_id', sa.String(length=36), nullable=False),
        sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('optuna_trial_id', sa.Integer(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['sweep_id'], ['sweeps.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('sweep_id', 'number'),
    )
    with op.batch_alter_table('experiments') as batch:
        batch.add_column(sa.Column('sweep_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('trial_number', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('sweep_value', sa.Float(), nullable=True))
        batch.create_index('ix_experiments_sweep', ['sweep_id', 'trial_number'])
    bind = op.get_bind()
    _optuna_metadata().create_all(bind)
    import optuna
    from optuna.storages._rdb import models

    # The row Optuna's storage would otherwise insert on first use (from an API or worker process).
    bind.execute(sa.text("INSERT INTO version_info (version_info_id, schema_version, library_version) "
                         "VALUES (1, :schema, :library)"),
                 {"schema": models.SCHEMA_VERSION, "library": optuna.__version__})


def downgrade() -> None:
    _optuna_metadata().drop_all(op.get_bind())
    with op.batch_alter_table('experiments') as batch:
        batch.drop_index('ix_experiments_sweep')
        batch.drop_column('sweep_value')
        batch.drop_column('trial_number')
        batch.drop_column('sweep_id')
    op.drop_table('sweep_trials')
    op.drop_index('ix_sweeps_created', table_name='sweeps')
    op.drop_table('sweeps')
