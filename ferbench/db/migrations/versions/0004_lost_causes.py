"""experiments remember why each lost delivery's process died

Revision ID: 0004
Revises: 0003

A training process killed by a signal (a segfault in native code, the OOM killer) is redelivered;
after the last attempt the experiment fails naming the signal, which only the worker's main
process saw when its pool child died: it records the cause here first.
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lost_causes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.drop_column('lost_causes')
