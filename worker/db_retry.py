"""Bounded retries of the worker's database writes: a database restart must not lose a finished run.

Every write in ferbench.db is one transaction guarded by a condition on the row's state, so
retrying one whose commit did land (the answer was lost) changes nothing the second time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from fer_models.retry import with_backoff

T = TypeVar("T")


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def with_db_retries(fn: Callable[[], T], *, what: str, attempts: int, base_delay: float = 0.5,
                    max_delay: float = 8.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call fn; on a lost connection wait base_delay * 2**k (capped) and try again, `attempts` calls at most."""
    return with_backoff(fn, what=f"database {what}", transient=is_connection_error, attempts=attempts,
                        base_delay=base_delay, max_delay=max_delay, sleep=sleep)
