"""The per-epoch checkpoint in a run's work_dir, written atomically.

Layout: `checkpoint-eNNNN.keras` (model weights with optimizer state) and `checkpoint.json` (epoch,
best so far, history, controller state, MLflow run id). The JSON is replaced last, with os.replace,
so a crash at any point leaves the previous complete checkpoint as the one that counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "checkpoint.json"
BEST_WEIGHTS_FILE = "best.weights.h5"


@dataclass
class CheckpointState:
    epochs_completed: int = 0
    model_file: str = ""
    mlflow_run_id: str | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    best_value: float | None = None
    best_epoch: int | None = None
    monitor: str = "val_loss"
    controller: dict[str, Any] = field(default_factory=dict)  # LR plateau and early-stopping counters
    train_seconds: float = 0.0
    spec: dict[str, Any] = field(default_factory=dict)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_state(work_dir: Path) -> CheckpointState | None:
    """The last complete checkpoint, or None when the folder has none."""
    path = Path(work_dir) / STATE_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    state = CheckpointState(**data)
    if not (Path(work_dir) / state.model_file).exists():
        return None
    return state


def save_checkpoint(work_dir: Path, model: Any, state: CheckpointState) -> None:
    """Save the model (weights + optimizer), then point the JSON at it, then drop older model files."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    name = f"checkpoint-e{state.epochs_completed:04d}.keras"
    tmp = work_dir / f".{name}.tmp.keras"  # keras insists on the .keras suffix
    model.save(tmp)
    os.replace(tmp, work_dir / name)
    state.model_file = name
    _atomic_write_text(work_dir / STATE_FILE, json.dumps(asdict(state), indent=1))
    for old in work_dir.glob("checkpoint-e*.keras"):
        if old.name != name:
            old.unlink(missing_ok=True)


def save_best_weights(work_dir: Path, model: Any) -> Path:
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = work_dir / f".tmp.{BEST_WEIGHTS_FILE}"
    model.save_weights(tmp)
    os.replace(tmp, work_dir / BEST_WEIGHTS_FILE)
    return work_dir / BEST_WEIGHTS_FILE
