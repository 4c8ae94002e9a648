"""uploaded_datasets: datasets registered by POST /datasets, their decoded cache kept in MLflow's artifact store

Revision ID: 0011
Revises: 0009

One row per content fingerprint (the same content uploaded twice is one dataset) and per name (a name
names one content). The row is written only after the cache is stored, so a row always has its cache.
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'uploaded_datasets',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('upload_bytes', sa.BigInteger(), nullable=False),
        sa.Column('cache_bytes', sa.BigInteger(), nullable=False),
        sa.Column('cache_sha256', sa.String(length=64), nullable=False),
        sa.Column('mlflow_run_id', sa.String(length=64), nullable=False),
        sa.Column('artifact_path', sa.String(length=255), nullable=False),
        sa.Column('split_sizes', sa.JSON(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
        sa.UniqueConstraint('fingerprint', name='uq_uploaded_datasets_fingerprint'),
    )


def downgrade() -> None:
    op.drop_table('uploaded_datasets')
