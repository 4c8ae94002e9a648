"""A 1x1 convolution with strides, computed as subsample-then-convolve.

Why: TensorFlow 2.21's oneDNN (the default CPU path) crashes the process (SIGSEGV, or SIGABRT
"free(): invalid pointer") in the backward pass of a 1x1 convolution with stride 2 for some
batch and feature-map shapes, e.g. batch 33 on 44x44x8 (mini-xception's first shortcut) or batch
32 on 46x46x8. A strided 1x1 convolution only reads every s-th pixel, so slicing those pixels
first and convolving with stride 1 gives the same output, the same weights and the same
gradients, through kernels that do not crash. docs/onednn-strided-pointwise.md has the analysis
and bench/repro_onednn_pointwise.py the reproduction.
"""

from __future__ import annotations

from typing import Any

import keras


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


@keras.saving.register_keras_serializable(package="fer_models")
class SubsampledPointwiseConv2D(keras.layers.Conv2D):
    """Drop-in for `Conv2D(filters, 1, strides=s)`: same config, weights and outputs ('same' or 'valid')."""

    def __init__(self, filters: int, kernel_size: Any = 1, strides: Any = 1, **kwargs: Any) -> None:
        if _pair(kernel_size) != (1, 1):
            raise ValueError(f"SubsampledPointwiseConv2D needs a 1x1 kernel, got {kernel_size!r}")
        kwargs.pop("dilation_rate", None)  # meaningless for a 1x1 kernel
        super().__init__(filters, 1, strides=1, **kwargs)
        self.subsample = _pair(strides)

    def _subsampled(self, inputs: Any) -> Any:
        sh, sw = self.subsample
        if self.data_format == "channels_first":
            return inputs[:, :, ::sh, ::sw]
        return inputs[:, ::sh, ::sw, :]

    def call(self, inputs: Any) -> Any:
        return super().call(self._subsampled(inputs))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        # A 1x1 kernel with stride s covers pixels 0, s, 2s, ...: ceil(size / s) of them, whatever the padding.
        shape = list(input_shape)
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis, step in zip(axes, self.subsample):
            if shape[axis] is not None:
                shape[axis] = -(-int(shape[axis]) // step)
        return super().compute_output_shape(tuple(shape))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "strides": self.subsample}


def is_strided_pointwise(layer: Any) -> bool:
    """A plain Conv2D with a 1x1 kernel and a stride above 1: the shape oneDNN's backward pass crashes on."""
    return (type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (1, 1)
            and tuple(layer.strides) != (1, 1))


def without_strided_pointwise(model: keras.Model) -> keras.Model:
    """`model` rebuilt with every strided 1x1 Conv2D replaced by SubsampledPointwiseConv2D (weights not copied).

    For keras.applications bases (ResNet50's downsampling blocks), before their weights are loaded:
    layer names stay, so weight files load by name as before.
    """
    if not any(is_strided_pointwise(layer) for layer in model.layers):
        return model

    def clone(layer: Any) -> Any:
        if is_strided_pointwise(layer):
            return SubsampledPointwiseConv2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)
