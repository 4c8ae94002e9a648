"""experiments and results

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 10:15:24.947976
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=True),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.String(length=36), nullable=True),
    sa.Column('spec_key', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('batch_index', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('stopped_reason', sa.Text(), nullable=True),
    sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key', 'batch_index', name='uq_experiments_idempotency')
    )
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.create_index('ix_experiments_created', ['created_at'], unique=False)
        batch_op.create_index('ix_experiments_dataset', ['dataset'], unique=False)
        batch_op.create_index('ix_experiments_group_id', ['group_id'], unique=False)
        batch_op.create_index('ix_experiments_model', ['model'], unique=False)
        batch_op.create_index('ix_experiments_status_created', ['status', 'created_at'], unique=False)

    op.create_table('results',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('experiment_id', sa.String(length=36), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=True),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('split_fingerprint', sa.String(length=128), nullable=False),
    sa.Column('spec_key', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('balanced_accuracy', sa.Float(), nullable=True),
    sa.Column('precision_macro', sa.Float(), nullable=True),
    sa.Column('recall_macro', sa.Float(), nullable=True),
    sa.Column('f1_macro', sa.Float(), nullable=True),
    sa.Column('f1_weighted', sa.Float(), nullable=True),
    sa.Column('roc_auc_macro', sa.Float(), nullable=True),
    sa.Column('top2_accuracy', sa.Float(), nullable=True),
    sa.Column('train_seconds', sa.Float(), nullable=True),
    sa.Column('epoch_seconds', sa.Float(), nullable=True),
    sa.Column('inference_ms', sa.Float(), nullable=True),
    sa.Column('throughput', sa.Float(), nullable=True),
    sa.Column('params', sa.Float(), nullable=True),
    sa.Column('model_bytes', sa.Float(), nullable=True),
    sa.Column('per_class', sa.JSON(), nullable=True),
    sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('experiment_id', name='uq_results_experiment_id')
    )
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index('ix_results_dataset_accuracy', ['dataset', 'accuracy'], unique=False)
        batch_op.create_index('ix_results_dataset_balanced_accuracy', ['dataset', 'balanced_accuracy'], unique=False)
        batch_op.create_index('ix_results_dataset_epoch_seconds', ['dataset', 'epoch_seconds'], unique=False)
        batch_op.create_index('ix_results_dataset_f1_macro', ['dataset', 'f1_macro'], unique=False)
        batch_op.create_index('ix_results_dataset_f1_weighted', ['dataset', 'f1_weighted'], unique=False)
        batch_op.create_index('ix_results_dataset_inference_ms', ['dataset', 'inference_ms'], unique=False)
        batch_op.create_index('ix_results_dataset_model_bytes', ['dataset', 'model_bytes'], unique=False)
        batch_op.create_index('ix_results_dataset_params', ['dataset', 'params'], unique=False)
        batch_op.create_index('ix_results_dataset_precision_macro', ['dataset', 'precision_macro'], unique=False)
        batch_op.create_index('ix_results_dataset_recall_macro', ['dataset', 'recall_macro'], unique=False)
        batch_op.create_index('ix_results_dataset_roc_auc_macro', ['dataset', 'roc_auc_macro'], unique=False)
        batch_op.create_index('ix_results_dataset_throughput', ['dataset', 'throughput'], unique=False)
        batch_op.create_index('ix_results_dataset_top2_accuracy', ['dataset', 'top2_accuracy'], unique=False)
        batch_op.create_index('ix_results_dataset_train_seconds', ['dataset', 'train_seconds'], unique=False)
        batch_op.create_index('ix_results_model', ['model'], unique=False)
        batch_op.create_index('ix_results_spec_key', ['spec_key', 'split_fingerprint'], unique=False)
        batch_op.create_index('ix_results_split_fingerprint', ['split_fingerprint'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index('ix_results_split_fingerprint')
        batch_op.drop_index('ix_results_spec_key')
        batch_op.drop_index('ix_results_model')
        batch_op.drop_index('ix_results_dataset_train_seconds')
        batch_op.drop_index('ix_results_dataset_top2_accuracy')
        batch_op.drop_index('ix_results_dataset_throughput')
        batch_op.drop_index('ix_results_dataset_roc_auc_macro')
        batch_op.drop_index('ix_results_dataset_recall_macro')
        batch_op.drop_index('ix_results_dataset_precision_macro')
        batch_op.drop_index('ix_results_dataset_params')
        batch_op.drop_index('ix_results_dataset_model_bytes')
        batch_op.drop_index('ix_results_dataset_inference_ms')
        batch_op.drop_index('ix_results_dataset_f1_weighted')
        batch_op.drop_index('ix_results_dataset_f1_macro')
        batch_op.drop_index('ix_results_dataset_epoch_seconds')
        batch_op.drop_index('ix_results_dataset_balanced_accuracy')
        batch_op.drop_index('ix_results_dataset_accuracy')

    op.drop_table('results')
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.drop_index('ix_experiments_status_created')
        batch_op.drop_index('ix_experiments_model')
        batch_op.drop_index('ix_experiments_group_id')
        batch_op.drop_index('ix_experiments_dataset')
        batch_op.drop_index('ix_experiments_created')

    op.drop_table('experiments')
