"""Custom CNNs of increasing size (conv/BN/ReLU blocks, dropout), and the conv stack the hybrids reuse.

Builders here and in the other model modules take every argument by keyword, without defaults: the
defaults are the registry's (fer_models.models.registry), which `get_model` fills in.
"""

from __future__ import annotations

from typing import Any

import keras

from fer_models.models.input_adapter import BN_MOMENTUM, InputAdapter, classifier, pixel_input


def block_filters(filters: int, block: int) -> int:
    return min(512, filters * 2**block)


def conv_stack(x: Any, *, filters: int, blocks: int, convs_per_block: int, attention: str = "none",
               reduction: int | None = None, dropout: float = 0.0, first_block_convs: int = 0) -> Any:
    """`blocks` x [(conv3x3 -> BN -> ReLU) x convs_per_block -> optional attention -> 2x2 max pool].

    `reduction` (the attention MLP's ratio) is read only when `attention` is "se" or "cbam".
    """
    from fer_models.models.layers import CBAM, SqueezeExcitation

    layers = keras.layers
    for b in range(blocks):
        for c in range(first_block_convs if b == 0 and first_block_convs else convs_per_block):
            x = layers.Conv2D(block_filters(filters, b), 3, padding="same", use_bias=False, name=f"block{b + 1}_conv{c + 1}")(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{b + 1}_bn{c + 1}")(x)
            x = layers.Activation("relu", name=f"block{b + 1}_relu{c + 1}")(x)
        if attention == "se":
            x = SqueezeExcitation(reduction, name=f"block{b + 1}_se")(x)
        elif attention == "cbam":
            x = CBAM(reduction, name=f"block{b + 1}_cbam")(x)
        x = layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
        if dropout > 0:
            x = layers.Dropout(min(dropout, 0.25), name=f"block{b + 1}_dropout")(x)
    return x


def dense_head(x: Any, *, dense_units: int, dropout: float, num_classes: int) -> Any:
    layers = keras.layers
    if dense_units > 0:
        x = layers.Dense(dense_units, activation="relu", name="head_dense")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return classifier(x, num_classes)


def custom_cnn(name: str, *, input_size: int, num_classes: int, image_size: int, filters: int, blocks: int,
               convs_per_block: int, dense_units: int, dropout: float, attention: str = "none",
               reduction: int | None = None, first_block_convs: int = 0) -> keras.Model:
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 1, "unit", name="input_adapter")(inputs)
    x = conv_stack(x, filters=filters, blocks=blocks, convs_per_block=convs_per_block, attention=attention,
                   reduction=reduction, dropout=dropout, first_block_convs=first_block_convs)
    # Global pooling rather than flatten keeps the head size independent of the input size.
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, dense_head(x, dense_units=dense_units, dropout=dropout, num_classes=num_classes), name=name)


def cnn_small(*, input_size: int, num_classes: int, image_size: int, weights: str, filters: int, blocks: int,
              convs_per_block: int, first_block_convs: int, dense_units: int, dropout: float) -> keras.Model:
    return custom_cnn("cnn_small", input_size=input_size, num_classes=num_classes, image_size=image_size,
                      filters=filters, blocks=blocks, convs_per_block=convs_per_block,
                      first_block_convs=first_block_convs, dense_units=dense_units, dropout=dropout)


def cnn_medium(*, input_size: int, num_classes: int, image_size: int, weights: str, filters: int, blocks: int,
               convs_per_block: int, first_block_convs: int, dense_units: int, dropout: float) -> keras.Model:
    return custom_cnn("cnn_medium", input_size=input_size, num_classes=num_classes, image_size=image_size,
                      filters=filters, blocks=blocks, convs_per_block=convs_per_block,
                      first_block_convs=first_block_convs, dense_units=dense_units, dropout=dropout)


def cnn_large(*, input_size: int, num_classes: int, image_size: int, weights: str, filters: int, blocks: int,
              convs_per_block: int, first_block_convs: int, dense_units: int, dropout: float) -> keras.Model:
    return custom_cnn("cnn_large", input_size=input_size, num_classes=num_classes, image_size=image_size,
                      filters=filters, blocks=blocks, convs_per_block=convs_per_block,
                      first_block_convs=first_block_convs, dense_units=dense_units, dropout=dropout)
