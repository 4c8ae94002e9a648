"""leaderboard groups carry the recipe a spec came from and the evaluation protocol of its split

Revision ID: 0005
Revises: 0004

`recipe`: the named recipe (fer_models.recipes) the spec was resolved from, NULL for a hand-written
spec; the leaderboard filters on it. `protocol`: "official" when the dataset's own test images
(FER2013's PublicTest/PrivateTest, a Kaggle test/ folder) are the test set, "holdout" when the test
set was carved from the training pool (the write-up's 80/10/10); the leaderboard never ranks the two
together. Rows written before this revision are "holdout" unless their spec says otherwise.
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipe', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('protocol', sa.String(length=16), nullable=False, server_default='holdout'))
        batch_op.create_index('ix_result_groups_recipe', ['recipe'], unique=False)
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protocol', sa.String(length=16), nullable=False, server_default='holdout'))


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_column('protocol')
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_result_groups_recipe')
        batch_op.drop_column('protocol')
        batch_op.drop_column('recipe')
