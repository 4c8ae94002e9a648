"""The engine's single Keras callback: LR control, divergence, cancel, budget, checkpoint, logging, progress.

One callback rather than several keeps the per-batch cost to a few float comparisons; everything
heavier (checkpoint, MLflow, progress hook) happens at epoch ends or every N batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import keras

from fer_models.training.checkpoint import CheckpointState, save_best_weights, save_checkpoint
from fer_models.training.hooks import Progress, RunHooks
from fer_models.training.schedule import (
    ControllerState,
    better,
    learning_rate_for_epoch,
    to_dict,
    update_early_stopping,
    update_plateau,
)

EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


class EngineCallback(keras.callbacks.Callback):
    def __init__(
        self,
        *,
        epochs: int,
        batches_per_epoch: int,
        base_lr: float,
        schedule: str,
        warmup_epochs: int,
        monitor: str,
        early_stopping_patience: int | None,
        stop_monitor: str | None = None,
        plateau: tuple[str, float, int] = ("val_loss", 0.5, 2),
        work_dir: Path,
        state: CheckpointState,
        controller: ControllerState,
        hooks: RunHooks,
        log_epoch: Callable[[int, dict[str, float]], None] | None,
        budget_seconds: float | None,
    ) -> None:
        super().__init__()
        self.epochs = epochs
        self.batches = batches_per_epoch
        self.base_lr = base_lr
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.monitor = monitor
        self.patience = early_stopping_patience
        self.stop_monitor = stop_monitor or monitor  # early stopping's metric; `monitor` picks the best weights
        self.plateau = plateau  # (monitor, factor, patience)
        self.work_dir = Path(work_dir)
        self.state = state
        self.controller = controller
        self.hooks = hooks
        self.log_epoch = log_epoch
        self.budget_seconds = budget_seconds
        self.every = max(int(hooks.progress_every_batches or 0), 0)
        # Outcome flags the engine reads after fit returns.
        self.stop_reason: str | None = None  # "cancelled" | "time_budget" | "early_stopping"
        self.diverged_at: tuple[int, int] | None = None
        self._epoch_start = 0.0
        self._epoch_interrupted = False
        self._run_start = time.perf_counter()
        self._batches_done_this_run = 0

    # -- helpers ---------------------------------------------------------------------------------

    def _elapsed_training(self) -> float:
        return self.state.train_seconds + (time.perf_counter() - self._epoch_start)

    def _eta(self, epoch: int, batch: int) -> float | None:
        if self._batches_done_this_run == 0:
            return None
        per_batch = (time.perf_counter() - self._run_start) / self._batches_done_this_run
        remaining = (self.epochs - epoch - 1) * self.batches + (self.batches - batch)
        return max(per_batch * remaining, 0.0)

    def _stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        self.model.stop_training = True

    # -- keras hooks -----------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._run_start = time.perf_counter()
        self._batches_done_this_run = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_interrupted = False
        lr = learning_rate_for_epoch(epoch, base_lr=self.base_lr, schedule=self.schedule, epochs=self.epochs,
                                     warmup_epochs=self.warmup_epochs, state=self.controller)
        self.model.optimizer.learning_rate = lr
        self._lr = lr
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.schedule == "one_cycle":
            epoch = self._current_epoch() + batch / max(self.batches, 1)
            if self.budget_seconds:
                # A slower machine than planned still anneals by the end of the budget: the cycle follows
                # whichever is further along, the steps or the time.
                epoch = max(epoch, self.epochs * self._elapsed_training() / self.budget_seconds)
            self._lr = learning_rate_for_epoch(epoch, base_lr=self.base_lr, schedule=self.schedule,
                                               epochs=self.epochs, warmup_epochs=self.warmup_epochs,
                                               state=self.controller)
            self.model.optimizer.learning_rate = self._lr

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches_done_this_run += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = (self._current_epoch() + 1, batch + 1)
            self._epoch_interrupted = True
            self.model.stop_training = True
            return
        if self.hooks.should_stop is not None and self.hooks.should_stop():
            self._epoch_interrupted = True
            self._stop("cancelled")
            return
        # The budget holds inside the first epoch too (an epoch of a large model on FER2013 can outlast a
        # whole budget); the run then evaluates its weights as they are, and its training time counts.
        if self.budget_seconds is not None and self._elapsed_training() >= self.budget_seconds:
            self.state.train_seconds = self._elapsed_training()
            self._epoch_interrupted = True
            self._stop("time_budget")
            return
        if self.every and self.hooks.on_progress is not None and (batch + 1) % self.every == 0:
            epoch = self._current_epoch()
            self.hooks.on_progress(Progress(
                epoch=epoch + 1, epochs=self.epochs, batch=batch + 1, batches=self.batches,
                metrics={k: float(v) for k, v in (logs or {}).items() if k in EPOCH_KEYS},
                eta_seconds=self._eta(epoch, batch + 1),
            ))

    def _current_epoch(self) -> int:
        return self.state.epochs_completed

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._epoch_interrupted:
            # A partial epoch: Keras still validates and reports it, but it is neither recorded nor
            # checkpointed; a resumed run redoes it from the previous checkpoint.
            return
        seconds = time.perf_counter() - self._epoch_start
        logs = dict(logs or {})
        values = {k: float(logs[k]) for k in EPOCH_KEYS if k in logs}
        values["lr"] = float(self._lr)
        values["epoch_seconds"] = seconds
        for key, value in values.items():
            self.state.history.setdefault(key, []).append(value)
        self.state.epochs_completed = epoch + 1
        self.state.train_seconds += seconds
        monitored = values.get(self.monitor, values.get("loss"))
        if monitored is not None and math.isfinite(monitored) and better(monitored, self.state.best_value, self.monitor):
            self.state.best_value, self.state.best_epoch = monitored, epoch + 1
            save_best_weights(self.work_dir, self.model)
        if self.schedule == "plateau":
            watched, factor, patience = self.plateau
            fallback = watched.removeprefix("val_")  # no validation data: the training metric
            update_plateau(self.controller, values.get(watched, values.get(fallback)), monitor=watched, factor=factor,
                           patience=patience)
        stop_value = values.get(self.stop_monitor, values.get("loss"))
        if self.patience and update_early_stopping(self.controller, stop_value, self.stop_monitor, self.patience):
            self._stop("early_stopping")
        self.state.controller = to_dict(self.controller)
        save_checkpoint(self.work_dir, self.model, self.state)
        if self.log_epoch is not None:
            self.log_epoch(epoch + 1, values)
        if self.hooks.on_progress is not None:
            self.hooks.on_progress(Progress(epoch=epoch + 1, epochs=self.epochs, batch=self.batches,
                                            batches=self.batches, metrics=values,
                                            eta_seconds=self._eta(epoch, self.batches)))
        # Checked here too so a cancel or budget hit at an epoch boundary wastes no partial epoch.
        if self.hooks.should_stop is not None and self.hooks.should_stop():
            self._stop("cancelled")
        elif self.budget_seconds is not None and self.state.train_seconds >= self.budget_seconds:
            self._stop("time_budget")
