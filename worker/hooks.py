"""The engine's RunHooks for one experiment: progress and heartbeats to its row, cancellation from it.

Reads of the cancellation flag are rate-limited: the engine asks between every batch, and a query
per batch would slow small models and load the database for nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class CancelCheck:
    """`should_stop()` for the engine: the row's cancel flag, read at most once per `interval_s`."""

    experiment_id: str
    read_flag: Callable[[str], bool]
    interval_s: float = 1.0
    _last_read: float = field(default=float("-inf"), init=False)
    _requested: bool = field(default=False, init=False)

    def __call__(self) -> bool:
        if self._requested:
            return True
        now = time.monotonic()
        if now - self._last_read >= self.interval_s:
            self._last_read = now
            try:
                self._requested = self.read_flag(self.experiment_id)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill a training run
                log.warning("could not read the cancel flag of %s; will retry", self.experiment_id, exc_info=True)
        return self._requested


@dataclass
class ProgressWriter:
    """`on_progress(progress)`: every epoch end is written; within an epoch, at most every `interval_s`.

    Each write also refreshes the row's heartbeat, which the reaper uses to find dead workers.
    """

    experiment_id: str
    write: Callable[[str, dict[str, Any]], None]
    interval_s: float = 2.0
    _last_write: float = field(default=float("-inf"), init=False)

    def __call__(self, progress: Any) -> None:
        data = progress_dict(progress)
        epoch_end = data.get("batch") in (None, data.get("batches"))
        now = time.monotonic()
        if not epoch_end and now - self._last_write < self.interval_s:
            return
        self._last_write = now
        try:
            self.write(self.experiment_id, data)
        except Exception as exc:  # noqa: BLE001 - progress is advisory; the result write is what must succeed
            log.warning("could not write progress of %s: %s", self.experiment_id, str(exc).splitlines()[0][:200])


def progress_dict(progress: Any) -> dict[str, Any]:
    if is_dataclass(progress) and not isinstance(progress, type):
        return asdict(progress)
    if isinstance(progress, dict):
        return dict(progress)
    return dict(vars(progress))


def _or(*checks: Callable[[], bool]) -> Callable[[], bool]:
    """One `should_stop` from several: the user's cancel flag and the worker's graceful shutdown."""
    return lambda: any(check() for check in checks)


def _both(*writers: Callable[[Any], None]) -> Callable[[Any], None]:
    def write(progress: Any) -> None:
        for writer in writers:
            writer(progress)

    return write


def build_hooks(experiment_id: str, run_hooks_class: type, *, progress_every_batches: int = 20,
                trial: Any = None) -> Any:
    """RunHooks wired to this experiment's row (the class is passed in: the engine is imported late).

    `trial` (worker.sweep_trials.TrialRun): a sweep's trial also reports each epoch to its study and
    stops, cooperatively like a cancel, once its pruner says so.
    """
    from worker import records, shutdown

    def on_run_started(mlflow_run_id: str | None) -> None:
        # Stored at once, so a redelivery after a crash reopens the same MLflow run.
        if mlflow_run_id:
            records.set_mlflow_run_id(experiment_id, mlflow_run_id)

    on_progress: Callable[[Any], None] = ProgressWriter(experiment_id, records.update_progress)
    stops = [CancelCheck(experiment_id, records.is_cancel_requested), shutdown.requested]
    if trial is not None:
        on_progress = _both(on_progress, lambda progress: trial.on_epoch(progress_dict(progress)))
        stops.append(lambda: trial.reporter.pruned)
    return run_hooks_class(
        on_run_started=on_run_started,
        on_progress=on_progress,
        should_stop=_or(*stops),
        progress_every_batches=progress_every_batches,
    )
