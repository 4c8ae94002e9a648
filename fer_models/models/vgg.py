"""VGG19 (Keras' conv base, new head): trainable or frozen base, as the write-up compared them."""

from __future__ import annotations

import keras

from fer_models.models.cnn import dense_head
from fer_models.models.input_adapter import InputAdapter, pixel_input
from fer_models.models.weights import imagenet_base


def vgg19(*, input_size: int = 224, num_classes: int = 7, image_size: int = 48, weights: str = "none",
          trainable_base: bool = True, dense_units: int = 256, dropout: float = 0.5) -> keras.Model:
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 3, "caffe", name="input_adapter")(inputs)
    base = imagenet_base("vgg19", input_size=input_size, weights=weights,
                         model_name="vgg19" if trainable_base else "vgg19-frozen")
    base.trainable = trainable_base
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = dense_head(x, dense_units=dense_units, dropout=dropout, num_classes=num_classes)
    return keras.Model(inputs, outputs, name="vgg19" if trainable_base else "vgg19_frozen")


def vgg19_frozen(*, input_size: int = 224, num_classes: int = 7, image_size: int = 48, weights: str = "none",
                 dense_units: int = 256, dropout: float = 0.5) -> keras.Model:
    return vgg19(input_size=input_size, num_classes=num_classes, image_size=image_size, weights=weights,
                 trainable_base=False, dense_units=dense_units, dropout=dropout)
