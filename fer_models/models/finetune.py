"""Training phases: which part of a pretrained base trains from which epoch, at what learning-rate factor.

TF-free at import. `Phase.trainable` is True (everything trains), "head" (the base is frozen), or
"blocks:N" / "layers:N" (the top N residual blocks / weighted layers of the base train). The engine
recompiles at each phase start. BatchNorm layers of a partly unfrozen base stay frozen, and a frozen
BatchNorm runs in inference mode in Keras 3, so fine-tuning never disturbs ImageNet statistics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from fer_models.errors import ModelError
from fer_models.models.schedule import ALL, parse_unfreeze_schedule

BACKBONE = "backbone"
HEAD = "head"
_RESIDUAL_BLOCK = re.compile(r"^(conv\d+_block\d+)_")


@dataclass(frozen=True)
class Phase:
    start_epoch: int
    trainable: bool | str
    lr_factor: float


def training_phases(name: str, hp: dict[str, Any] | None) -> list[Phase]:
    """The phases of `name` under hyperparameters `hp` (defaults filled), sorted by start epoch."""
    from fer_models.models.registry import get_model_info, validate_hyperparameters

    return phases_of(get_model_info(name), validate_hyperparameters(name, dict(hp or {})))


def phases_of(info: Any, filled: Mapping[str, Any]) -> list[Phase]:
    """The phases of registry entry `info` under already checked, filled hyperparameters."""
    if not info.base_trains(filled):
        return [Phase(0, HEAD, 1.0)]
    if "unfreeze_schedule" not in filled:
        return [Phase(0, True, 1.0)]
    steps = parse_unfreeze_schedule(filled["unfreeze_schedule"])
    factor = float(filled["finetune_lr_factor"])
    phases: list[Phase] = []
    if not steps or steps[0][0] > 0:
        phases.append(Phase(0, HEAD, 1.0))
    for epoch, count in steps:
        phases.append(Phase(epoch, True if count == ALL else f"{filled['unfreeze_unit']}:{count}", factor))
    return phases


def find_backbone(model: Any) -> Any | None:
    for layer in model.layers:
        if layer.name == BACKBONE:
            return layer
        if hasattr(layer, "layers"):
            found = find_backbone(layer)
            if found is not None:
                return found
    return None


def _top_units(base: Any, unit: str, count: int) -> set[str]:
    """Names of the base's layers that belong to its top `count` residual blocks or weighted layers."""
    if unit == "layers":
        weighted = [layer for layer in base.layers if layer.weights]
        return {layer.name for layer in weighted[-count:]}
    blocks: list[str] = []
    for layer in base.layers:
        match = _RESIDUAL_BLOCK.match(layer.name)
        if match and match.group(1) not in blocks:
            blocks.append(match.group(1))
    if not blocks:
        raise ModelError(f"base {base.name!r} has no residual blocks; use unfreeze_unit=layers")
    top = set(blocks[-count:])
    return {layer.name for layer in base.layers if (m := _RESIDUAL_BLOCK.match(layer.name)) and m.group(1) in top}


def _set_trainable(layer: Any, value: bool) -> None:
    # A Functional model's `trainable` setter does not reach layers frozen one by one: walk them all.
    layer.trainable = value
    for sub in getattr(layer, "layers", ()):
        _set_trainable(sub, value)


def apply_phase(model: Any, phase: Phase) -> None:
    """Set `trainable` flags on `model` for `phase` (call before compiling)."""
    import keras

    _set_trainable(model, True)
    base = find_backbone(model)
    if phase.trainable is True:
        return
    if base is None:
        raise ModelError(f"model {model.name!r} has no pretrained base to freeze (phase {phase.trainable!r})")
    if phase.trainable in (False, HEAD):
        _set_trainable(base, False)
        return
    unit, _, count_text = str(phase.trainable).partition(":")
    if unit not in ("blocks", "layers") or not count_text.isdigit():
        raise ModelError(f"phase trainable={phase.trainable!r}; accepted: True, 'head', 'blocks:N', 'layers:N'")
    chosen = _top_units(base, unit, int(count_text))
    for layer in base.layers:
        layer.trainable = layer.name in chosen and not isinstance(layer, keras.layers.BatchNormalization)
