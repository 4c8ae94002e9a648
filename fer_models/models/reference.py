"""Reference nets from the literature, to show where the write-up's models stand."""

from __future__ import annotations

import keras

from fer_models.models.input_adapter import BN_MOMENTUM, InputAdapter, classifier, pixel_input
from fer_models.models.pointwise import SubsampledPointwiseConv2D


def mini_xception(*, input_size: int, num_classes: int, image_size: int, weights: str, base_filters: int,
                  l2: float) -> keras.Model:
    """Arriaga, Ploger & Valdenegro (2017): 2 entry convs, 4 residual separable modules, conv-to-classes + GAP."""
    layers = keras.layers
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 1, "unit", name="input_adapter")(inputs)
    for i in (1, 2):
        x = layers.Conv2D(base_filters, 3, use_bias=False, kernel_regularizer=reg, name=f"entry_conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"entry_bn{i}")(x)
        x = layers.Activation("relu", name=f"entry_relu{i}")(x)
    for m, multiple in enumerate((2, 4, 8, 16), start=1):
        filters = base_filters * multiple
        # Not Conv2D(filters, 1, strides=2): its oneDNN backward pass crashes on odd batches (pointwise.py).
        residual = SubsampledPointwiseConv2D(filters, 1, strides=2, padding="same", use_bias=False,
                                             name=f"module{m}_shortcut")(x)
        residual = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"module{m}_shortcut_bn")(residual)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, depthwise_regularizer=reg,
                                   pointwise_regularizer=reg, name=f"module{m}_sep1")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"module{m}_bn1")(x)
        x = layers.Activation("relu", name=f"module{m}_relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, depthwise_regularizer=reg,
                                   pointwise_regularizer=reg, name=f"module{m}_sep2")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"module{m}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"module{m}_pool")(x)
        x = layers.Add(name=f"module{m}_add")([x, residual])
    x = layers.Conv2D(num_classes, 3, padding="same", name="class_conv")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


def vgg_fer(*, input_size: int, num_classes: int, image_size: int, weights: str, filters: int, dense_units: int,
            dropout: float) -> keras.Model:
    """Khaireddin & Chen (2021): 4 stages of 2 conv/BN/ReLU + max pool, two dense layers, from scratch."""
    layers = keras.layers
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 1, "unit", name="input_adapter")(inputs)
    for s in range(4):
        for c in (1, 2):
            x = layers.Conv2D(min(1024, filters * 2**s), 3, padding="same", use_bias=False, name=f"stage{s + 1}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"stage{s + 1}_bn{c}")(x)
            x = layers.Activation("relu", name=f"stage{s + 1}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"stage{s + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    for d in (1, 2):
        x = layers.Dense(dense_units, activation="relu", name=f"fc{d}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"fc{d}_dropout")(x)
    return keras.Model(inputs, classifier(x, num_classes), name="vgg_fer")
