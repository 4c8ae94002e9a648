"""The names DESIGN.md fixes and every layer shares: metric names and job statuses (TF-free, no imports).

Metric names are the same in SQL, the API, the CLI and MLflow (which prefixes final test-set values
with `test_`); fer_models computes them, ferbench stores them, the API ranks by them. Defined here, in
the lowest layer, so that fer_models may use them without importing ferbench.
"""

from __future__ import annotations

from typing import Literal, get_args

# Computed from the test-set predictions (fer_models.evaluation.metrics).
ClassificationMetric = Literal[
    "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
    "roc_auc_macro", "top2_accuracy",
]
# What the model costs: time, size, speed (`inference_ms` per image at batch 1; `throughput` images/s).
CostMetric = Literal["train_seconds", "epoch_seconds", "inference_ms", "throughput", "params", "model_bytes"]
Metric = Literal[ClassificationMetric, CostMetric]

CLASSIFICATION_METRICS: tuple[ClassificationMetric, ...] = get_args(ClassificationMetric)
METRICS: tuple[Metric, ...] = get_args(Metric)
# 95% bootstrap intervals of the headline metrics, stored with each result beside METRICS (never ranked).
INTERVALS: tuple[str, ...] = ("accuracy_ci_low", "accuracy_ci_high", "f1_macro_ci_low", "f1_macro_ci_high")
# Ranked ascending; every other metric ranks descending.
LOWER_IS_BETTER: frozenset[Metric] = frozenset({"train_seconds", "epoch_seconds", "inference_ms", "params", "model_bytes"})

# `pending`: inserted but not yet handed to the broker (the outbox); never shown as queued.
# `pruned`: a sweep trial its pruner stopped early (no test evaluation, no results row, never ranked).
Status = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled", "pruned"]
STATUSES: tuple[Status, ...] = get_args(Status)
FINISHED: tuple[Status, ...] = ("succeeded", "failed", "cancelled", "pruned")

# What a sweep may optimise: validation metrics only (the test split is never tuned on), and their direction.
SweepObjective = Literal["val_accuracy", "val_loss"]
SWEEP_OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {"val_accuracy": "maximize", "val_loss": "minimize"}
SweepStatus = Literal["running", "cancelling", "succeeded", "cancelled", "failed"]

# How a result's test set was drawn. `official`: the dataset's own test images (FER2013's PublicTest and
# PrivateTest rows, a Kaggle test/ folder), validation carved from its training images; `holdout`: the test
# set carved from the pool (the write-up's 80/10/10). Numbers of the two are never ranked together.
Protocol = Literal["official", "holdout"]
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
# The parts of an official test set that papers quote separately (FER2013's PublicTest and PrivateTest).
TestPart = Literal["public", "private"]
TEST_PARTS: tuple[TestPart, ...] = get_args(TestPart)
