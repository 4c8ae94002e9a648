"""The worker's part in a sweep: run a trial's experiment as a child run of the sweep's MLflow run,
report each epoch's objective to the study (stopping the run when the pruner says so), and after
the experiment ends, bring the sweep up to date (end the trial, open the next, end the sweep).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ferbench.settings import Settings
from ferbench.sweeps.study import StudyConfig, TrialReporter
from worker import records

log = logging.getLogger(__name__)


@dataclass
class TrialRun:
    """One trial experiment's sweep context: MLflow tags (the parent run) and the study reporter."""

    sweep_id: str
    number: int
    objective: str
    reporter: TrialReporter
    tags: dict[str, str]

    def on_epoch(self, progress: Mapping[str, Any]) -> None:
        """At each epoch end (batch == batches), report the objective and ask the pruner."""
        if progress.get("batch") in (None, progress.get("batches")):
            self.reporter.report(int(progress.get("epoch") or 0), progress.get("metrics") or {})

    def sweep_value(self, history: Mapping[str, list[float]]) -> float | None:
        """The trial's objective for this run: the last epoch's validation metric (what the pruner saw last)."""
        values = history.get(self.objective) or []
        return float(values[-1]) if values else None


def _parent_run(ref: records.SweepTrialRef, tracking_uri: str | None) -> str | None:
    """The sweep's MLflow parent run, created by the first trial to need it (the loser of a race deletes its own)."""
    if not tracking_uri:
        return None
    if ref.sweep.mlflow_run_id:
        return ref.sweep.mlflow_run_id
    from ferbench.sweeps.tracking import create_parent_run, delete_run

    mine = create_parent_run(tracking_uri, ref.sweep)
    kept = records.set_sweep_parent_run(ref.sweep.id, mine)
    if kept != mine:
        delete_run(tracking_uri, mine)
    return kept


def trial_run(claimed: records.Claimed, settings: Settings) -> TrialRun | None:
    if claimed.sweep_id is None:
        return None
    ref = records.sweep_trial(claimed.sweep_id, claimed.experiment_id)
    if ref is None:
        return None
    parent = _parent_run(ref, settings.mlflow_tracking_uri)
    tags = {"sweep_id": ref.sweep.id, "trial_number": str(ref.number)}
    if parent:
        tags["mlflow.parentRunId"] = parent
    reporter = TrialReporter(settings.resolved_database_url, StudyConfig.of(ref.sweep), ref.optuna_trial_id,
                             ref.sweep.objective)
    return TrialRun(sweep_id=ref.sweep.id, number=ref.number, objective=ref.sweep.objective, reporter=reporter,
                    tags=tags)


def after_trial(experiment_id: str, settings: Settings, enqueue: Callable[[str], None] | None) -> None:
    """Bring the experiment's sweep (if any) up to date; once the sweep has ended, close its MLflow run.

    Runs after every end of a trial's experiment and on every delivery found already finished (a worker
    killed between the two leaves the sweep to the redelivery, or to the reaper). Never raises: the
    experiment's own outcome is already recorded, and the next trial's end, delivery or reaper pass syncs again.
    """
    try:
        sweep_id = records.sweep_of(experiment_id)
        if sweep_id is None or enqueue is None:
            return
        bring_up_to_date(sweep_id, settings, enqueue)
    except Exception:  # noqa: BLE001 - see the docstring
        log.warning("could not bring the sweep of experiment %s up to date", experiment_id, exc_info=True)


def bring_up_to_date(sweep_id: str, settings: Settings, enqueue: Callable[[str], None]) -> None:
    outcome = records.sync_sweep(sweep_id, enqueue)
    if outcome.ended or outcome.opened:
        log.info("sweep %s: trials ended %s, opened %s", sweep_id, outcome.ended, outcome.opened)
    if outcome.finished:
        log.info("sweep %s ended: %s", sweep_id, outcome.finished)
    close_parent_run(sweep_id, settings)


def catch_up(settings: Settings, enqueue: Callable[[str], None]) -> None:
    """The reaper's pass over sweeps: sync every running one (a trial failed by the reaper, or ended by a worker
    that died before syncing, opens the next here) and close the parent run of every ended one still open (a
    sweep the API's cancel ended). Each sweep on its own: one that fails is retried by the next pass."""
    for sweep_id in records.running_sweeps() + records.unclosed_sweeps():
        try:
            bring_up_to_date(sweep_id, settings, enqueue)
        except Exception:  # noqa: BLE001 - see the docstring
            log.warning("reaper: could not bring sweep %s up to date", sweep_id, exc_info=True)


# Closing logs a few metrics and draws three plots: seconds. A claim this old belongs to a closer that died.
CLOSE_LEASE_S = 600.0


def close_parent_run(sweep_id: str, settings: Settings) -> bool:
    """Log the ended sweep's summary and plots on its parent run and end it, once: the caller whose claim wins.

    The claim is released when closing fails (the tracking server is down), so a later pass tries again; a
    closer killed meanwhile leaves a claim that the reaper takes again after CLOSE_LEASE_S."""
    if not settings.mlflow_tracking_uri or not records.claim_parent_run_close(sweep_id, CLOSE_LEASE_S):
        return False
    try:
        _finish_mlflow(sweep_id, settings)
    except BaseException:
        records.end_parent_run_close(sweep_id, closed=False)
        raise
    records.end_parent_run_close(sweep_id, closed=True)
    return True


def _finish_mlflow(sweep_id: str, settings: Settings) -> None:
    from ferbench.sweeps import study
    from ferbench.sweeps.tracking import create_parent_run, finalize_parent_run

    summary = records.sweep_summary(sweep_id)
    if summary is None:
        return
    sweep, trials = summary
    uri = settings.mlflow_tracking_uri
    if not sweep.mlflow_run_id:  # cancelled before any trial started
        sweep.mlflow_run_id = records.set_sweep_parent_run(sweep_id, create_parent_run(uri, sweep))  # type: ignore[arg-type]
    loaded = study.load(settings.resolved_database_url, StudyConfig.of(sweep))
    finalize_parent_run(uri, sweep, trials, loaded)  # type: ignore[arg-type]
