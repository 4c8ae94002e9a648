"""VGG19 (Keras' conv base, new head): trainable or frozen base, as the write-up compared them.

`vgg19-frozen` is this builder with trainable_base=False, a property of its registry entry.
"""

from __future__ import annotations

import keras

from fer_models.models.cnn import dense_head
from fer_models.models.input_adapter import InputAdapter, pixel_input
from fer_models.models.weights import imagenet_base


def vgg19(*, input_size: int, num_classes: int, image_size: int, weights: str, trainable_base: bool, dense_units: int,
          dropout: float) -> keras.Model:
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 3, "caffe", name="input_adapter")(inputs)
    base = imagenet_base("vgg19", input_size=input_size, weights=weights,
                         model_name="vgg19" if trainable_base else "vgg19-frozen")
    base.trainable = trainable_base
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = dense_head(x, dense_units=dense_units, dropout=dropout, num_classes=num_classes)
    return keras.Model(inputs, outputs, name="vgg19" if trainable_base else "vgg19_frozen")
