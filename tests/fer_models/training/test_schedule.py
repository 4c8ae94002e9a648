import pytest

PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.5, 2  # the spec's defaults

from fer_models.training.schedule import (
    ControllerState,
    learning_rate_for_epoch,
    update_early_stopping,
    update_plateau,
)


def _lrs(schedule: str, epochs: int = 5, warmup: int = 0, state: ControllerState | None = None) -> list[float]:
    state = state or ControllerState()
    return [learning_rate_for_epoch(e, base_lr=0.1, schedule=schedule, epochs=epochs, warmup_epochs=warmup, state=state)
            for e in range(epochs)]


def test_constant_cosine_and_warmup() -> None:
    assert _lrs("constant") == [0.1] * 5
    cosine = _lrs("cosine")
    assert cosine[0] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(cosine, cosine[1:]))
    assert cosine[-1] == pytest.approx(0.1 * 0.5 * (1 + __import__("math").cos(__import__("math").pi * 4 / 5)))
    warm = _lrs("constant", warmup=2)
    assert warm[:2] == pytest.approx([0.1 / 3, 0.2 / 3]) and warm[2:] == [0.1] * 3


def test_plateau_halves_after_patience_epochs_without_improvement() -> None:
    state = ControllerState()
    for value in [1.0] + [1.0] * PLATEAU_PATIENCE:
        update_plateau(state, value, monitor="val_loss", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE)
    assert state.plateau_scale == PLATEAU_FACTOR
    assert _lrs("plateau", state=state)[0] == pytest.approx(0.1 * PLATEAU_FACTOR)
    update_plateau(state, 0.5, monitor="val_loss", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE)  # improvement resets the wait, keeps the scale
    assert (state.plateau_wait, state.plateau_scale) == (0, PLATEAU_FACTOR)


@pytest.mark.parametrize(("monitor", "values", "stop_at"), [
    ("val_loss", [1.0, 0.9, 0.95, 0.91], 4),
    ("val_accuracy", [0.5, 0.6, 0.55, 0.6], 4),
    ("val_loss", [1.0, 0.9, 0.8, 0.7], None),
])
def test_early_stopping_counts_epochs_without_improvement(monitor: str, values: list[float], stop_at: int | None) -> None:
    state = ControllerState()
    stops = [update_early_stopping(state, v, monitor, patience=2) for v in values]
    assert (stops.index(True) + 1 if True in stops else None) == stop_at
