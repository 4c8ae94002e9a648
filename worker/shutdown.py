"""Graceful shutdown mid-job: SIGTERM to the worker stops the running job at the next batch and requeues it.

Celery's warm shutdown would wait for a job that can run for hours. Instead the main process, on
`worker_shutting_down`, sends SIGUSR2 to its pool processes; the pool process sets a flag that the
engine's `should_stop` hook reads between batches; the task then hands the experiment back to the
queue (it resumes from its last epoch checkpoint on another worker) and returns.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger(__name__)

REQUEUE_SIGNAL = signal.SIGUSR2
# The longest a graceful requeue may take after SIGTERM: the batch in progress (a large model at a large
# batch on a slow device), then the requeue's database writes and MLflow calls, each retried with backoff
# through a short outage. Compose's stop_grace_period and the Kubernetes worker's
# terminationGracePeriodSeconds must be at least this (tests/deploy checks both).
GRACEFUL_REQUEUE_S = 300
_requested = threading.Event()


def requested() -> bool:
    return _requested.is_set()


def install_child_handler() -> None:
    """In each pool process: SIGUSR2 means "stop the job at the next batch and requeue it"."""
    _requested.clear()

    def handler(signum: int, frame: object) -> None:
        _requested.set()

    signal.signal(REQUEUE_SIGNAL, handler)


def signal_pool_children() -> int:
    """In the main process: ask every pool process to stop its job; returns how many were signalled."""
    import billiard.process

    sent = 0
    for child in billiard.process.active_children():
        if child.pid is None:
            continue
        try:
            os.kill(child.pid, REQUEUE_SIGNAL)
            sent += 1
        except ProcessLookupError:
            continue
    if sent:
        log.warning("shutting down: asked %d pool process(es) to requeue their job", sent)
    return sent
