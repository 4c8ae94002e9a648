"""CNN-LSTM hybrids: a feature map (N, H, W, C) is read row by row as H time steps of W*C features."""

from __future__ import annotations

from typing import Any

import keras

from fer_models.models.cnn import conv_stack
from fer_models.models.input_adapter import InputAdapter, classifier, pixel_input
from fer_models.models.resnet import first_phase, resnet_features


def rows_as_sequence(x: Any) -> Any:
    """(N, H, W, C) -> (N, H, W*C): each image row is one time step (static shapes, no batch mix-up)."""
    _, height, width, channels = x.shape
    return keras.layers.Reshape((height, width * channels), name="rows_as_sequence")(x)


def lstm_head(x: Any, *, lstm_units: int, dropout: float, num_classes: int, attention_units: int | None) -> Any:
    from fer_models.models.layers import AttentionPooling

    x = rows_as_sequence(x)
    if attention_units is None:
        x = keras.layers.LSTM(lstm_units, name="lstm")(x)
    else:
        x = keras.layers.LSTM(lstm_units, return_sequences=True, name="lstm")(x)
        x = AttentionPooling(attention_units, name="attention_pooling")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return classifier(x, num_classes)


def cnn_lstm_model(name: str, *, input_size: int, num_classes: int, image_size: int, filters: int, blocks: int,
                   convs_per_block: int, lstm_units: int, dropout: float, attention: str = "none",
                   reduction: int | None = None, attention_units: int | None = None) -> keras.Model:
    inputs = pixel_input(image_size)
    x = InputAdapter(input_size, 1, "unit", name="input_adapter")(inputs)
    x = conv_stack(x, filters=filters, blocks=blocks, convs_per_block=convs_per_block, attention=attention,
                   reduction=reduction, dropout=dropout)
    outputs = lstm_head(x, lstm_units=lstm_units, dropout=dropout, num_classes=num_classes,
                        attention_units=attention_units)
    return keras.Model(inputs, outputs, name=name)


def resnet_lstm_model(name: str, *, input_size: int, num_classes: int, image_size: int, weights: str,
                      lstm_units: int, dropout: float, attention_units: int | None, schedule: dict) -> keras.Model:
    inputs = pixel_input(image_size)
    x = resnet_features(inputs, input_size=input_size, weights=weights, model_name=name)
    # Minimum input 64 gives a 2x2 map, i.e. at least 2 time steps.
    # 2048 channels x 7 columns would make a 14k-wide LSTM input: project the channels first.
    x = keras.layers.Conv2D(256, 1, activation="relu", name="reduce_channels")(x)
    outputs = lstm_head(x, lstm_units=lstm_units, dropout=dropout, num_classes=num_classes,
                        attention_units=attention_units)
    return first_phase(keras.Model(inputs, outputs, name=name.replace("-", "_")), name, schedule)


def cnn_lstm(*, input_size: int, num_classes: int, image_size: int, weights: str, filters: int, blocks: int,
             convs_per_block: int, lstm_units: int, dropout: float) -> keras.Model:
    return cnn_lstm_model("cnn_lstm", input_size=input_size, num_classes=num_classes, image_size=image_size,
                          filters=filters, blocks=blocks, convs_per_block=convs_per_block, lstm_units=lstm_units,
                          dropout=dropout)


def resnet50_lstm(*, input_size: int, num_classes: int, image_size: int, weights: str, lstm_units: int,
                  dropout: float, unfreeze_schedule: str, unfreeze_unit: str, finetune_lr_factor: float) -> keras.Model:
    return resnet_lstm_model(
        "resnet50-lstm", input_size=input_size, num_classes=num_classes, image_size=image_size, weights=weights,
        lstm_units=lstm_units, dropout=dropout, attention_units=None,
        schedule={"unfreeze_schedule": unfreeze_schedule, "unfreeze_unit": unfreeze_unit,
                  "finetune_lr_factor": finetune_lr_factor},
    )
