"""Why a pool process died, recorded before Celery redelivers its task.

A training process killed by a signal (a segfault in TensorFlow's native code, the OOM killer)
takes its task with it: only the worker's main process sees the exit, as billiard's
WorkerLostError ("Worker exited prematurely: signal 11 (SIGSEGV) Job: 3."). This request class
records that cause on the experiment's row, then lets Celery requeue as before; after the last
attempt the row fails naming the signal (ferbench.db.lifecycle.worker_lost_message).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from billiard.exceptions import WorkerLostError
from celery.worker.request import Request

log = logging.getLogger(__name__)

_STATUS = re.compile(r"prematurely: (?:signal (?P<signum>\d+)(?: \((?P<name>\w+)\))?|exitcode (?P<code>-?\d+))")


def lost_cause(exc: BaseException | None) -> str | None:
    """"SIGSEGV", "signal 77" or "exit status 1" from a WorkerLostError; None for other errors."""
    if not isinstance(exc, WorkerLostError):
        return None
    match = _STATUS.search(str(exc))
    if match is None:
        return "an unknown cause"
    if match["code"] is not None:
        return f"exit status {match['code']}"
    return match["name"] or f"signal {match['signum']}"


class TrainingRequest(Request):
    """Celery's request, plus: a lost pool process's cause is written to the row before the requeue."""

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
        exc = getattr(exc_info, "exception", None)
        cause = lost_cause(getattr(exc, "exc", exc))  # billiard may wrap it in ExceptionWithTraceback
        if cause is not None:
            log.error("experiment %s: its training process died (%s)", self.task_id, cause)
            try:
                from worker import records

                records.note_lost_cause(self.task_id, cause)
            except Exception:  # noqa: BLE001 - the redelivery matters more than the reason
                log.exception("could not record why experiment %s was lost", self.task_id)
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
