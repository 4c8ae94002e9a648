"""Retry MLflow calls with exponential backoff: a tracking server restart must not kill a training run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from fer_models.errors import FerBenchError
from fer_models.retry import with_backoff

T = TypeVar("T")


class TrackingUnavailableError(FerBenchError, ConnectionError):
    """The tracking server stayed unreachable through every retry (a ConnectionError, so callers that
    handle lost connections keep working; a FerBenchError, so the experiment fails with this message)."""


def is_transient(exc: BaseException) -> bool:
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        # A 4xx answer is deliberate (bad value, no such run): retrying cannot change it; 429 can.
        status = exc.get_http_status_code()
        return not (400 <= status < 500) or status == 429
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def with_retries(fn: Callable[[], T], *, what: str, attempts: int = 4, base_delay: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Call fn; on a transient error wait base_delay * 2**k and try again, up to `attempts` calls."""
    try:
        return with_backoff(fn, what=f"MLflow {what}", transient=is_transient, attempts=attempts,
                            base_delay=base_delay, sleep=sleep)
    except Exception as exc:
        if not is_transient(exc):
            raise
        waited = sum(base_delay * 2**k for k in range(attempts - 1))
        raise TrackingUnavailableError(
            f"the MLflow tracking server did not answer ({what}) after {attempts} tries over "
            f"{waited:.1f} s of backoff: {str(exc).splitlines()[0][:300]}; check that it is running "
            "and reachable at MLFLOW_TRACKING_URI"
        ) from exc
