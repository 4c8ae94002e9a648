"""sweep_parent_run_closed: sweeps.parent_run_closed and parent_run_claimed_at, so that a sweep's MLflow parent
run is closed exactly once

Revision ID: 0012
Revises: 0011

A sweep can now be ended by a process that never talks to MLflow (the API's cancel, which ends it at
once when no trial is running): the workers close the parent run afterwards. The one whose conditional
update stamps parent_run_claimed_at closes it and then sets parent_run_closed; a claim older than a lease
(its closer died) may be taken again. Sweeps that had already ended were closed by the worker that ended them.
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sweeps') as batch:
        batch.add_column(sa.Column('parent_run_closed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('parent_run_claimed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE sweeps SET parent_run_closed = true WHERE status <> 'running'")


def downgrade() -> None:
    with op.batch_alter_table('sweeps') as batch:
        batch.drop_column('parent_run_claimed_at')
        batch.drop_column('parent_run_closed')
