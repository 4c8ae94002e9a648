"""reports: tables made from finished experiments (the write-up's figures beside ours), as snapshots

Revision ID: 0007
Revises: 0006

`ferbench reproduce writeup` asks the API to make the report (POST /reports/writeup); the rows, the
Markdown and the PNG are stored as made, and GET /reports/writeup serves the latest of a kind.
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reports',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('dataset', sa.String(length=64), nullable=False),
        sa.Column('scale', sa.String(length=8), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('markdown', sa.Text(), nullable=False),
        sa.Column('png', sa.LargeBinary(), nullable=False),
        sa.Column('experiment_ids', sa.JSON(), nullable=False),
        sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
        sa.Column('mlflow_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_reports_kind_created', 'reports', ['kind', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reports_kind_created', table_name='reports')
    op.drop_table('reports')
