"""leaderboard groups

Revision ID: 0002
Revises: 0001

Running sums per (spec_key, split_fingerprint), backfilled from the results already stored.
Create Date: 2026-11-24 10:33:56.584253
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen here: the metric list of this revision (later revisions add their own columns).
METRICS = (
    "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
    "roc_auc_macro", "top2_accuracy", "train_seconds", "epoch_seconds", "inference_ms", "throughput",
    "params", "model_bytes",
)


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('result_groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('spec_key', sa.String(length=64), nullable=False),
    sa.Column('split_fingerprint', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=True),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('accuracy_n', sa.Integer(), nullable=False),
    sa.Column('accuracy_sum', sa.Float(), nullable=True),
    sa.Column('accuracy_mean', sa.Float(), nullable=True),
    sa.Column('balanced_accuracy_n', sa.Integer(), nullable=False),
    sa.Column('balanced_accuracy_sum', sa.Float(), nullable=True),
    sa.Column('balanced_accuracy_mean', sa.Float(), nullable=True),
    sa.Column('precision_macro_n', sa.Integer(), nullable=False),
    sa.Column('precision_macro_sum', sa.Float(), nullable=True),
    sa.Column('precision_macro_mean', sa.Float(), nullable=True),
    sa.Column('recall_macro_n', sa.Integer(), nullable=False),
    sa.Column('recall_macro_sum', sa.Float(), nullable=True),
    sa.Column('recall_macro_mean', sa.Float(), nullable=True),
    sa.Column('f1_macro_n', sa.Integer(), nullable=False),
    sa.Column('f1_macro_sum', sa.Float(), nullable=True),
    sa.Column('f1_macro_mean', sa.Float(), nullable=True),
    sa.Column('f1_weighted_n', sa.Integer(), nullable=False),
    sa.Column('f1_weighted_sum', sa.Float(), nullable=True),
    sa.Column('f1_weighted_mean', sa.Float(), nullable=True),
    sa.Column('roc_auc_macro_n', sa.Integer(), nullable=False),
    sa.Column('roc_auc_macro_sum', sa.Float(), nullable=True),
    sa.Column('roc_auc_macro_mean', sa.Float(), nullable=True),
    sa.Column('top2_accuracy_n', sa.Integer(), nullable=False),
    sa.Column('top2_accuracy_sum', sa.Float(), nullable=True),
    sa.Column('top2_accuracy_mean', sa.Float(), nullable=True),
    sa.Column('train_seconds_n', sa.Integer(), nullable=False),
    sa.Column('train_seconds_sum', sa.Float(), nullable=True),
    sa.Column('train_seconds_mean', sa.Float(), nullable=True),
    sa.Column('epoch_seconds_n', sa.Integer(), nullable=False),
    sa.Column('epoch_seconds_sum', sa.Float(), nullable=True),
    sa.Column('epoch_seconds_mean', sa.Float(), nullable=True),
    sa.Column('inference_ms_n', sa.Integer(), nullable=False),
    sa.Column('inference_ms_sum', sa.Float(), nullable=True),
    sa.Column('inference_ms_mean', sa.Float(), nullable=True),
    sa.Column('throughput_n', sa.Integer(), nullable=False),
    sa.Column('throughput_sum', sa.Float(), nullable=True),
    sa.Column('throughput_mean', sa.Float(), nullable=True),
    sa.Column('params_n', sa.Integer(), nullable=False),
    sa.Column('params_sum', sa.Float(), nullable=True),
    sa.Column('params_mean', sa.Float(), nullable=True),
    sa.Column('model_bytes_n', sa.Integer(), nullable=False),
    sa.Column('model_bytes_sum', sa.Float(), nullable=True),
    sa.Column('model_bytes_mean', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('spec_key', 'split_fingerprint', name='uq_result_groups_key')
    )
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.create_index('ix_result_groups_dataset_accuracy', ['dataset', 'accuracy_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_balanced_accuracy', ['dataset', 'balanced_accuracy_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_epoch_seconds', ['dataset', 'epoch_seconds_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_f1_macro', ['dataset', 'f1_macro_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_f1_weighted', ['dataset', 'f1_weighted_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_inference_ms', ['dataset', 'inference_ms_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_model_bytes', ['dataset', 'model_bytes_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_params', ['dataset', 'params_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_precision_macro', ['dataset', 'precision_macro_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_recall_macro', ['dataset', 'recall_macro_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_roc_auc_macro', ['dataset', 'roc_auc_macro_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_throughput', ['dataset', 'throughput_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_top2_accuracy', ['dataset', 'top2_accuracy_mean'], unique=False)
        batch_op.create_index('ix_result_groups_dataset_train_seconds', ['dataset', 'train_seconds_mean'], unique=False)
        batch_op.create_index('ix_result_groups_model', ['model'], unique=False)

    metric_cols = ", ".join(f"{m}_n, {m}_sum, {m}_mean" for m in METRICS)
    metric_aggs = ", ".join(f"COUNT({m}), SUM({m}), AVG({m})" for m in METRICS)
    op.execute(
        f"INSERT INTO result_groups (spec_key, split_fingerprint, model, family, dataset, n, {metric_cols}) "
        f"SELECT spec_key, split_fingerprint, MIN(model), MIN(family), MIN(dataset), COUNT(*), {metric_aggs} "
        "FROM results GROUP BY spec_key, split_fingerprint"
    )


def downgrade() -> None:
    with op.batch_alter_table('result_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_result_groups_model')
        batch_op.drop_index('ix_result_groups_dataset_train_seconds')
        batch_op.drop_index('ix_result_groups_dataset_top2_accuracy')
        batch_op.drop_index('ix_result_groups_dataset_throughput')
        batch_op.drop_index('ix_result_groups_dataset_roc_auc_macro')
        batch_op.drop_index('ix_result_groups_dataset_recall_macro')
        batch_op.drop_index('ix_result_groups_dataset_precision_macro')
        batch_op.drop_index('ix_result_groups_dataset_params')
        batch_op.drop_index('ix_result_groups_dataset_model_bytes')
        batch_op.drop_index('ix_result_groups_dataset_inference_ms')
        batch_op.drop_index('ix_result_groups_dataset_f1_weighted')
        batch_op.drop_index('ix_result_groups_dataset_f1_macro')
        batch_op.drop_index('ix_result_groups_dataset_epoch_seconds')
        batch_op.drop_index('ix_result_groups_dataset_balanced_accuracy')
        batch_op.drop_index('ix_result_groups_dataset_accuracy')

    op.drop_table('result_groups')
