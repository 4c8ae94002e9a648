"""The cause of a lost pool process, as billiard reports it, and the failure message built from it."""

from __future__ import annotations

import pytest
from billiard.exceptions import WorkerLostError

from ferbench.db.lifecycle import worker_lost_message
from worker.process_loss import lost_cause


@pytest.mark.parametrize(("text", "cause"), [
    ("Worker exited prematurely: signal 11 (SIGSEGV) Job: 3.", "SIGSEGV"),
    ("Worker exited prematurely: signal 6 (SIGABRT) Job: 0.", "SIGABRT"),
    ("Worker exited prematurely: signal 77 Job: 0.", "signal 77"),
    ("Worker exited prematurely: exitcode 139 Job: 1.", "exit status 139"),
    ("something else entirely", "an unknown cause"),
])
def test_cause_from_billiards_message(text: str, cause: str) -> None:
    assert lost_cause(WorkerLostError(text)) == cause


def test_other_errors_are_not_losses() -> None:
    assert lost_cause(ValueError("Worker exited prematurely: signal 11 (SIGSEGV)")) is None
    assert lost_cause(None) is None


def test_message_names_the_signal_when_every_attempt_died_of_it() -> None:
    assert worker_lost_message(3, ["SIGSEGV"] * 3).startswith("the training process was killed by SIGSEGV, 3 times")
    assert worker_lost_message(2, ["exit status 1"] * 2).startswith("the training process ended with exit status 1, 2 times")


def test_message_lists_mixed_or_missing_causes() -> None:
    assert worker_lost_message(3, ["SIGSEGV", "SIGKILL"]).startswith("worker lost 3 times (SIGSEGV, SIGKILL)")
    assert worker_lost_message(2).startswith("worker lost 2 times:")
