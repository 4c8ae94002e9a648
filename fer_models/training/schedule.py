"""Learning-rate control: warm-up, constant/cosine/plateau per epoch, one-cycle per step, early stopping.

Kept as plain state (a dict) so the checkpoint can carry it and a resumed run continues exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MIN_LR_FRACTION = 1e-3  # plateau never drops below base_lr * this
# One-cycle as Smith and Topin 2019 and PyTorch's OneCycleLR: from base/25 up to base over the first
# 30% of the steps, then down to base/25/1e4, both halves cosine-shaped.
ONE_CYCLE_RISE = 0.3
ONE_CYCLE_START = 1 / 25
ONE_CYCLE_END = ONE_CYCLE_START / 1e4


@dataclass
class ControllerState:
    plateau_scale: float = 1.0
    plateau_best: float | None = None
    plateau_wait: int = 0
    stop_best: float | None = None
    stop_wait: int = 0


def better(value: float, best: float | None, monitor: str) -> bool:
    if best is None:
        return True
    return value > best if monitor.endswith("accuracy") else value < best


def one_cycle_rate(progress: float, base_lr: float) -> float:
    """The one-cycle rate at `progress` (0 at the first step, 1 at the end) of training."""
    def cosine(start: float, end: float, fraction: float) -> float:
        return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))

    if progress < ONE_CYCLE_RISE:
        return base_lr * cosine(ONE_CYCLE_START, 1.0, progress / ONE_CYCLE_RISE)
    return base_lr * cosine(1.0, ONE_CYCLE_END, (progress - ONE_CYCLE_RISE) / (1.0 - ONE_CYCLE_RISE))


def learning_rate_for_epoch(epoch: float, *, base_lr: float, schedule: str, epochs: int, warmup_epochs: int,
                            state: ControllerState) -> float:
    """The rate at 0-based `epoch` of `epochs` (fractional within an epoch: one-cycle moves every step):
    linear warm-up, then the schedule."""
    if schedule == "one_cycle":  # its rise is its warm-up
        return one_cycle_rate(epoch / max(epochs, 1), base_lr)
    if warmup_epochs and epoch < warmup_epochs:
        return base_lr * (epoch + 1) / (warmup_epochs + 1)
    if schedule == "cosine":
        span = max(epochs - warmup_epochs, 1)
        progress = (epoch - warmup_epochs) / span
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "plateau":
        return base_lr * state.plateau_scale
    return base_lr


def update_plateau(state: ControllerState, value: float | None, *, monitor: str, factor: float,
                   patience: int) -> None:
    """After an epoch: multiply the scale by `factor` when `monitor` has not improved for `patience` epochs."""
    if value is None or not math.isfinite(value):
        return
    if better(value, state.plateau_best, monitor):
        state.plateau_best, state.plateau_wait = value, 0
        return
    state.plateau_wait += 1
    if state.plateau_wait >= patience:
        state.plateau_scale = max(state.plateau_scale * factor, MIN_LR_FRACTION)
        state.plateau_wait = 0


def update_early_stopping(state: ControllerState, value: float | None, monitor: str, patience: int) -> bool:
    """After an epoch: True when `monitor` has not improved for `patience` epochs."""
    if value is None or not math.isfinite(value):
        return False
    if better(value, state.stop_best, monitor):
        state.stop_best, state.stop_wait = value, 0
        return False
    state.stop_wait += 1
    return state.stop_wait >= patience


def to_dict(state: ControllerState) -> dict:
    return asdict(state)


def from_dict(data: dict) -> ControllerState:
    return ControllerState(**data) if data else ControllerState()
