"""Figures every model reports: parameters, analytic FLOPs per image at its input size, `.keras` file size.

The size is that of Keras's native `.keras` file (architecture, config and weights, zipped): what a
user downloads and loads. A caller that saves the model anyway passes that file, so the model is
serialised once (the engine measures the file it logs to MLflow).

FLOPs count a multiply-add as 2 and cover the layers that dominate cost (Conv2D, DepthwiseConv2D,
SeparableConv2D, Dense, LSTM, and the MLPs inside the attention layers); pooling, BatchNorm and
activations are left out, as in the usual published counts.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelFigures:
    params_total: int
    params_trainable: int
    flops_per_image: int
    model_bytes: int


def _count(weights: list) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def _shape(tensor: Any) -> tuple:
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError("layer has no input")
        tensor = tensor[0]
    return tuple(tensor.shape)


def _spatial(shape: tuple) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def layer_flops(layer: Any) -> int:
    """Analytic FLOPs of one (non-nested) layer for one image, from its symbolic input/output shapes."""
    import keras

    from fer_models.models.layers import CBAM, AttentionPooling, SqueezeExcitation

    L = keras.layers
    try:
        in_shape, out_shape = _shape(layer.input), _shape(layer.output)
    except (AttributeError, ValueError):
        return 0
    cin, cout = int(in_shape[-1]), int(out_shape[-1])
    if isinstance(layer, L.SeparableConv2D):
        kh, kw = layer.kernel_size
        depth = cin * layer.depth_multiplier
        return 2 * _spatial(out_shape) * (kh * kw * depth + depth * cout)
    if isinstance(layer, L.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return 2 * _spatial(out_shape) * kh * kw * cout
    if isinstance(layer, L.Conv2D):
        kh, kw = layer.kernel_size
        return 2 * _spatial(out_shape) * kh * kw * (cin // layer.groups) * cout
    if isinstance(layer, L.Dense):
        return 2 * _spatial(out_shape) * cin * cout if len(out_shape) > 2 else 2 * cin * cout
    if isinstance(layer, L.LSTM):
        steps, units = int(in_shape[1]), int(layer.units)
        return 2 * steps * 4 * units * (cin + units)
    if isinstance(layer, SqueezeExcitation):
        hidden = max(1, cin // layer.reduction)
        return 2 * 2 * cin * hidden
    if isinstance(layer, CBAM):
        hidden = max(1, cin // layer.reduction)
        return 2 * 2 * 2 * cin * hidden + 2 * _spatial(out_shape) * layer.kernel_size**2 * 2
    if isinstance(layer, AttentionPooling):
        steps = int(in_shape[1])
        return 2 * steps * (cin * layer.units + layer.units)
    return 0


def count_flops(model: Any) -> int:
    total = 0
    for layer in model.layers:
        total += count_flops(layer) if hasattr(layer, "layers") and layer.layers else layer_flops(layer)
    return total


def saved_size(model: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="ferbench-figures-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.stat().st_size


def model_figures(model: Any, *, keras_file: Path | None = None) -> ModelFigures:
    """`keras_file`: the model already saved as `.keras` (measured as it is); None saves a temporary one."""
    return ModelFigures(
        params_total=_count(model.weights),
        params_trainable=_count(model.trainable_weights),
        flops_per_image=count_flops(model),
        model_bytes=keras_file.stat().st_size if keras_file is not None else saved_size(model),
    )
