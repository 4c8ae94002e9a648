"""The reaper: `running` jobs whose worker stopped sending heartbeats go back to the queue.

A worker whose host disappears leaves its job `running` with an unacknowledged message that the
broker only gives back after its visibility timeout (hours, to cover long runs). Every worker runs
`reap_once` at start-up and then every settings.reaper_interval_s on a daemon thread; tests and
operators call it directly. Within settings.max_attempts a lost job is requeued (it resumes from its
checkpoint); past it, it is failed with "worker lost N times". Each pass then brings every sweep up to
date (worker/sweep_trials.py): a trial failed here, or one whose worker died before syncing its sweep,
still opens the next trial, and an ended sweep's MLflow parent run is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ferbench.db.outbox import BrokerUnavailable
from ferbench.settings import Settings
from worker import records
from worker.mlflow_runs import end_run_of_failed
from worker.sweep_trials import catch_up

log = logging.getLogger(__name__)


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reap_once(settings: Settings, enqueue: Callable[[str], None]) -> ReapReport:
    """Requeue (or fail, past the attempt limit) every running job with a heartbeat older than heartbeat_stale_s."""
    report = ReapReport()
    for experiment_id, attempts in records.stale_running(settings.heartbeat_stale_s):
        if attempts >= settings.max_attempts:
            if records.fail_lost(experiment_id, attempts):
                report.failed.append(experiment_id)
                end_run_of_failed(experiment_id, settings.mlflow_tracking_uri)
            continue
        try:
            if records.requeue_lost(experiment_id, attempts, enqueue):
                report.requeued.append(experiment_id)
        except BrokerUnavailable:
            # Kept `pending`: the outbox drain sends it when the broker is back.
            log.warning("reaper: broker unreachable; %s kept pending", experiment_id)
            report.requeued.append(experiment_id)
    if report.requeued or report.failed:
        log.warning("reaper: requeued %s, failed %s (no heartbeat for %.0f s)", report.requeued, report.failed,
                    settings.heartbeat_stale_s)
    catch_up(settings, enqueue)
    return report


def start_reaper(settings: Settings, enqueue: Callable[[str], None], stop: threading.Event) -> threading.Thread:
    """Now and every reaper_interval_s until `stop` is set (a daemon thread of the worker's main process):
    send the outbox (experiments recorded while the broker was unreachable), then reap."""

    def loop() -> None:
        while True:
            try:
                sent = records.drain_outbox(enqueue)
                if sent:
                    log.info("enqueued %d pending experiment(s) from the outbox", sent)
                reap_once(settings, enqueue)
            except Exception:  # noqa: BLE001 - a database or broker outage must not end the loop
                log.warning("reaper pass failed; next one in %.0f s", settings.reaper_interval_s, exc_info=True)
            if stop.wait(settings.reaper_interval_s):
                return

    thread = threading.Thread(target=loop, name="ferbench-reaper", daemon=True)
    thread.start()
    return thread
