"""an index on result_groups (protocol, dataset): the leaderboard's default protocol is one index probe

Revision ID: 0006
Revises: 0005

GET /leaderboard ranks one protocol at a time; without `protocol` it answers "official" when a group of
the requested dataset has official results, else "holdout". That check reads this index only.
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.create_index('ix_result_groups_protocol_dataset', ['protocol', 'dataset'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_result_groups_protocol_dataset')
