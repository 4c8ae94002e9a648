"""leaderboard groups carry their spec and members

Revision ID: 0003
Revises: 0002

GET /leaderboard answers from result_groups alone: each group keeps the spec (without the seed) and,
per seed, the experiment id, MLflow run id and metrics. Backfilled from the results already stored.
Create Date: 2026-11-24 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen here: the metric list of this revision.
METRICS = (
    "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
    "roc_auc_macro", "top2_accuracy", "train_seconds", "epoch_seconds", "inference_ms", "throughput",
    "params", "model_bytes",
)

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spec', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('members', sa.JSON(), nullable=False, server_default='[]'))

    experiments = sa.table('experiments', sa.column('id', sa.String), sa.column('spec', sa.JSON))
    results = sa.table('results', *(sa.column(c) for c in (
        'experiment_id', 'spec_key', 'split_fingerprint', 'seed', 'mlflow_run_id', *METRICS)))
    groups = sa.table('result_groups', sa.column('spec_key'), sa.column('split_fingerprint'),
                      sa.column('spec', sa.JSON), sa.column('members', sa.JSON))
    bind = op.get_bind()
    backfill: dict[tuple[str, str], dict] = {}
    for r in bind.execute(sa.select(results, experiments.c.spec)
                          .join(experiments, experiments.c.id == results.c.experiment_id)).mappings():
        group = backfill.setdefault((r['spec_key'], r['split_fingerprint']), {
            'spec': {k: v for k, v in (r['spec'] or {}).items() if k != 'seed'}, 'members': []})
        group['members'].append({'experiment_id': r['experiment_id'], 'seed': r['seed'],
                                 'mlflow_run_id': r['mlflow_run_id'], 'metrics': {m: r[m] for m in METRICS}})
    for (key, split), group in backfill.items():
        group['members'].sort(key=lambda m: (m['seed'], m['experiment_id']))
        bind.execute(groups.update().where(groups.c.spec_key == key, groups.c.split_fingerprint == split)
                     .values(spec=group['spec'], members=group['members']))


def downgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.drop_column('members')
        batch_op.drop_column('spec')
