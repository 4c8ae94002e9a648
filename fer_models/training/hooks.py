"""What a caller (CLI, worker) hands the engine and gets back. TF-free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """A progress report: 1-based `epoch` of `epochs`, `batch` of `batches` within it (batch == batches
    at an epoch end), the latest metrics, and the estimated seconds left (None until measurable)."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    metrics: dict[str, float]
    eta_seconds: float | None


@dataclass
class RunHooks:
    """Callbacks into the caller. `should_stop` is polled between batches (keep it cheap: a flag, or
    a throttled DB read); `on_progress` runs every epoch end and every `progress_every_batches` batches."""

    on_run_started: Callable[[str | None], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
    progress_every_batches: int = 20


@dataclass
class ExperimentResult:
    """`status`: succeeded, cancelled or stopped_budget (the last still evaluated on the test split).

    With FER2013's PublicTest/PrivateTest both in the test set, `metrics` also holds `public_accuracy`,
    `private_accuracy`, `public_f1_macro` and `private_f1_macro` (logged as `test_public_accuracy`, ...)."""

    status: str
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    history: dict[str, list[float]]
    mlflow_run_id: str | None
    dataset_fingerprint: str
    split_fingerprint: str
    epochs_completed: int
    stopped_reason: str | None = None
    # "official": the dataset's own test images; "holdout": a test set carved 80/10/10 (fer_models.vocabulary).
    protocol: str = "holdout"
    # Validation and test probabilities (fer_models.evaluation.predictions.Predictions); None when cancelled.
    predictions: Any = None
