"""MobileNet V1 and V2 bases (width multiplier `alpha`) with a new head."""

from __future__ import annotations

import keras

from fer_models.models.cnn import dense_head
from fer_models.models.input_adapter import InputAdapter, pixel_input
from fer_models.models.weights import imagenet_base


def _mobile(arch: str, name: str, *, input_size: int, num_classes: int, image_size: int, weights: str,
            alpha: float, dense_units: int, dropout: float) -> keras.Model:
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 3, "tf", name="input_adapter")(inputs)
    base = imagenet_base(arch, input_size=input_size, weights=weights, model_name=name, alpha=alpha)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = dense_head(x, dense_units=dense_units, dropout=dropout, num_classes=num_classes)
    return keras.Model(inputs, outputs, name=name)


def mobilenet(*, input_size: int, num_classes: int, image_size: int, weights: str, alpha: float, dense_units: int,
              dropout: float) -> keras.Model:
    return _mobile("mobilenet", "mobilenet", input_size=input_size, num_classes=num_classes, image_size=image_size,
                   weights=weights, alpha=alpha, dense_units=dense_units, dropout=dropout)


def mobilenetv2(*, input_size: int, num_classes: int, image_size: int, weights: str, alpha: float, dense_units: int,
                dropout: float) -> keras.Model:
    return _mobile("mobilenetv2", "mobilenetv2", input_size=input_size, num_classes=num_classes,
                   image_size=image_size, weights=weights, alpha=alpha, dense_units=dense_units, dropout=dropout)
