"""Grayscale pixels (0..255) to what an architecture expects, inside the model (pure keras.ops).

Every model takes the same (image_size, image_size, 1) batches; this layer repeats the channel,
resizes to the architecture's input size and applies its `preprocess_input` semantics.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# keras.applications.imagenet_utils "caffe" mode: RGB->BGR, then these BGR means subtracted.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
PREPROCESS_MODES = ("unit", "caffe", "tf")
# Keras' 0.99 lets BatchNorm's moving statistics lag for the first epochs on FER-sized data, so
# validation accuracy reads as chance early on; 0.9 tracks within ~20 steps.
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="fer_models")
class InputAdapter(keras.layers.Layer):
    """(N, H, W, 1) 0..255 -> (N, size, size, channels) in the architecture's input range.

    Modes: "unit" (x / 255, the custom nets), "caffe" (VGG19, ResNet50: BGR minus ImageNet means),
    "tf" (MobileNets: x / 127.5 - 1).
    """

    def __init__(self, input_size: int, channels: int = 1, mode: str = "unit", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"mode {mode!r} not in {PREPROCESS_MODES}")
        self.input_size = int(input_size)
        self.channels = int(channels)
        self.mode = mode

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, self.compute_dtype)
        if x.shape[1] != self.input_size or x.shape[2] != self.input_size:
            x = ops.image.resize(x, (self.input_size, self.input_size), interpolation="bilinear")
        if self.channels != 1:
            x = ops.repeat(x, self.channels, axis=-1)
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        x = ops.flip(x, axis=-1)
        mean = ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        return x - ops.reshape(mean, (1, 1, 1, 3))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.input_size, self.input_size, self.channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_size": self.input_size, "channels": self.channels, "mode": self.mode}


def pixel_input(image_size: int) -> Any:
    return keras.Input(shape=(image_size, image_size, 1), dtype="float32", name="pixels")


def classifier(x: Any, num_classes: int) -> Any:
    """Logits then softmax in float32, so mixed_float16 training still returns float32 probabilities."""
    x = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
