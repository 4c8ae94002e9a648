"""The hooks that tie a training run to its row: cancellation reads are rate-limited, epoch ends always written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from worker import hooks
from worker.hooks import CancelCheck, ProgressWriter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(hooks.time, "monotonic", fake)
    return fake


@dataclass
class Progress:
    epoch: int
    epochs: int
    batch: int | None
    batches: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    eta_seconds: float | None = None


def test_cancel_flag_is_read_at_most_once_per_interval_and_sticks(clock: Clock) -> None:
    reads: list[str] = []
    flag = {"value": False}

    def read(experiment_id: str) -> bool:
        reads.append(experiment_id)
        return flag["value"]

    check = CancelCheck("e1", interval_s=1.0, read_flag=read)
    assert [check() for _ in range(50)] == [False] * 50
    assert reads == ["e1"]  # 50 batches, one query
    flag["value"] = True
    clock.now += 0.5
    assert check() is False  # not re-read yet
    clock.now += 0.6
    assert check() is True
    flag["value"] = False
    clock.now += 5
    assert check() is True  # a cancellation is never undone mid-run
    assert len(reads) == 2


def test_a_failing_flag_read_does_not_stop_training(clock: Clock) -> None:
    def broken(_id: str) -> bool:
        raise ConnectionError("database away")

    check = CancelCheck("e1", read_flag=broken)
    assert check() is False


def test_epoch_ends_are_always_written_and_batches_are_rate_limited(clock: Clock) -> None:
    written: list[dict[str, Any]] = []
    writer = ProgressWriter("e1", interval_s=2.0, write=lambda _id, data: written.append(data))
    writer(Progress(1, 3, 10, 100))
    writer(Progress(1, 3, 20, 100))  # same instant: skipped
    writer(Progress(1, 3, 100, 100, {"val_accuracy": 0.5}))  # epoch end: written anyway
    writer(Progress(2, 3, None, None, {"val_accuracy": 0.6}))  # epoch-level report: written
    clock.now += 2.5
    writer(Progress(3, 3, 5, 100))
    assert [(d["epoch"], d["batch"]) for d in written] == [(1, 10), (1, 100), (2, None), (3, 5)]
    assert written[1]["metrics"] == {"val_accuracy": 0.5}


def test_progress_write_errors_are_swallowed(clock: Clock) -> None:
    def broken(_id: str, _data: dict[str, Any]) -> None:
        raise ConnectionError("database away")

    ProgressWriter("e1", write=broken)(Progress(1, 3, None, None))
