import json
from pathlib import Path

import keras
import numpy as np

from fer_models.training.checkpoint import STATE_FILE, CheckpointState, load_state, save_checkpoint


class _Crash(Exception):
    pass


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def test_checkpoint_round_trip_and_old_files_removed(tmp_path: Path) -> None:
    model = _model()
    assert load_state(tmp_path) is None
    for epoch in (1, 2):
        save_checkpoint(tmp_path, model, CheckpointState(epochs_completed=epoch, history={"loss": [1.0] * epoch},
                                                         mlflow_run_id="abc"))
    state = load_state(tmp_path)
    assert (state.epochs_completed, state.mlflow_run_id, state.history["loss"]) == (2, "abc", [1.0, 1.0])
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["checkpoint-e0002.keras"]


def test_a_crash_while_saving_leaves_the_previous_checkpoint_valid(tmp_path: Path) -> None:
    model = _model()
    save_checkpoint(tmp_path, model, CheckpointState(epochs_completed=1))

    class Exploding:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(b"half a file")
            raise _Crash

    try:
        save_checkpoint(tmp_path, Exploding(), CheckpointState(epochs_completed=2))
    except _Crash:
        pass
    state = load_state(tmp_path)
    assert state.epochs_completed == 1
    assert json.loads((tmp_path / STATE_FILE).read_text())["model_file"] == "checkpoint-e0001.keras"
    restored = _model()
    restored.load_weights(tmp_path / state.model_file)
    x = np.ones((1, 3), dtype=np.float32)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))
