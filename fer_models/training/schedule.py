"""Learning-rate control per epoch: warm-up, constant/cosine/plateau, and early stopping.

Kept as plain state (a dict) so the checkpoint can carry it and a resumed run continues exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

PLATEAU_FACTOR = 0.5
PLATEAU_PATIENCE = 2
MIN_LR_FRACTION = 1e-3  # plateau never drops below base_lr * this


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


def learning_rate_for_epoch(epoch: int, *, base_lr: float, schedule: str, epochs: int, warmup_epochs: int,
                            state: ControllerState) -> float:
    """The rate for 0-based `epoch` of `epochs`: linear warm-up, then the schedule."""
    if warmup_epochs and epoch < warmup_epochs:
        return base_lr * (epoch + 1) / (warmup_epochs + 1)
    if schedule == "cosine":
        span = max(epochs - warmup_epochs, 1)
        progress = (epoch - warmup_epochs) / span
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "plateau":
        return base_lr * state.plateau_scale
    return base_lr


def update_plateau(state: ControllerState, value: float | None) -> None:
    """After an epoch: halve the scale when val_loss has not improved for PLATEAU_PATIENCE epochs."""
    if value is None or not math.isfinite(value):
        return
    if better(value, state.plateau_best, "val_loss"):
        state.plateau_best, state.plateau_wait = value, 0
        return
    state.plateau_wait += 1
    if state.plateau_wait >= PLATEAU_PATIENCE:
        state.plateau_scale = max(state.plateau_scale * PLATEAU_FACTOR, MIN_LR_FRACTION)
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
