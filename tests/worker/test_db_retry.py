"""The worker's database writes: retried on a lost connection only, with capped backoff."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from worker.db_retry import with_db_retries


def lost_connection() -> OperationalError:
    return OperationalError("UPDATE experiments ...", {}, ConnectionError("server closed the connection"))


def test_a_lost_connection_is_retried_with_delays_capped_at_max_delay() -> None:
    calls, delays = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 5:
            raise lost_connection()
        return "written"

    assert with_db_retries(flaky, what="result write", attempts=5, base_delay=1.0, max_delay=3.0,
                           sleep=delays.append) == "written"
    assert delays == [1.0, 2.0, 3.0, 3.0]


def test_other_errors_fail_at_once_and_a_connection_that_stays_lost_after_the_attempts() -> None:
    calls = []

    def duplicate() -> None:
        calls.append(1)
        raise IntegrityError("INSERT INTO results ...", {}, ValueError("duplicate key"))

    with pytest.raises(IntegrityError):
        with_db_retries(duplicate, what="result write", attempts=5, sleep=lambda _: None)
    assert len(calls) == 1

    calls.clear()

    def down() -> None:
        calls.append(1)
        raise lost_connection()

    with pytest.raises(OperationalError):
        with_db_retries(down, what="result write", attempts=3, sleep=lambda _: None)
    assert len(calls) == 3
