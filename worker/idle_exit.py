"""A worker that exits once it has had no task for FERBENCH_WORKER_IDLE_EXIT_S seconds.

For workers started per queued experiment (a KEDA ScaledJob on Kubernetes): the pod's worker takes the
message it was started for, and any that follow while it is busy, then ends its Job by exiting with
status 0 instead of holding a GPU while the queue is empty. The exit is Celery's own warm shutdown
(SIGTERM to this process), the same path a graceful stop takes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
_CHECK_EVERY_S = 1.0


def _busy() -> bool:
    from celery.worker import state

    return bool(state.reserved_requests or state.active_requests)


def watch_idle(idle_exit_s: float, stop: threading.Event, *, busy: Callable[[], bool] = _busy,
               exit_now: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM),
               clock: Callable[[], float] = time.monotonic) -> threading.Thread:
    """Start the watcher thread; it calls `exit_now` once the worker has been idle for `idle_exit_s`."""
    def run() -> None:
        idle_since: float | None = clock()  # from the first check that found no task
        while not stop.wait(min(_CHECK_EVERY_S, idle_exit_s)):
            if busy():
                idle_since = None
            elif idle_since is None:
                idle_since = clock()
            elif clock() - idle_since >= idle_exit_s:
                log.info("no task for %.0f s (FERBENCH_WORKER_IDLE_EXIT_S): exiting", idle_exit_s)
                exit_now()
                return

    thread = threading.Thread(target=run, name="ferbench-idle-exit", daemon=True)
    thread.start()
    return thread
