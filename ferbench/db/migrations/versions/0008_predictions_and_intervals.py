"""predictions and intervals: each result's 95% bootstrap intervals, and its stored class probabilities

Revision ID: 0008
Revises: 0007

Ensembles and paired comparisons combine the probabilities runs already computed; results written
before this revision have neither, and whatever needs them says so.
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INTERVALS = ('accuracy_ci_low', 'accuracy_ci_high', 'f1_macro_ci_low', 'f1_macro_ci_high')


def upgrade() -> None:
    with op.batch_alter_table('results') as batch:
        for name in INTERVALS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
    op.create_table(
        'predictions',
        sa.Column('experiment_id', sa.String(length=36), nullable=False),
        sa.Column('split_fingerprint', sa.String(length=128), nullable=False),
        sa.Column('npz', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('experiment_id'),
    )


def downgrade() -> None:
    op.drop_table('predictions')
    with op.batch_alter_table('results') as batch:
        for name in INTERVALS:
            batch.drop_column(name)
