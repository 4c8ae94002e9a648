"""Calls retried with exponential backoff while their error is transient (a server restarting).

One loop for every remote dependency: the MLflow calls (fer_models.tracking.retry) and the worker's
database writes (worker.db_retry) differ only in what counts as transient and in their bounds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def with_backoff(fn: Callable[[], T], *, what: str, transient: Callable[[BaseException], bool], attempts: int,
                 base_delay: float = 0.5, max_delay: float = math.inf,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Call fn; on a transient error wait min(base_delay * 2**k, max_delay) and try again, `attempts` calls at most.

    The last error, or any error that is not transient, is raised as it is.
    """
    for attempt in range(max(attempts, 1)):
        try:
            return fn()
        except Exception as exc:
            if attempt >= attempts - 1 or not transient(exc):
                raise
            delay = min(base_delay * 2**attempt, max_delay)
            log.warning("%s failed (%s); retrying in %.1f s (%d/%d)", what, str(exc).splitlines()[0][:200], delay,
                        attempt + 1, attempts)
            sleep(delay)
    raise AssertionError("unreachable")
