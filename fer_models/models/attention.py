"""Attention models: CBAM/SE inside the CNN, attention pooling over LSTM steps (Ming et al. 2022)."""

from __future__ import annotations

import keras

from fer_models.models.cnn import custom_cnn
from fer_models.models.hybrids import cnn_lstm_model, resnet_lstm_model


def cnn_attention(*, input_size: int, num_classes: int, image_size: int, weights: str, attention: str,
                  reduction: int, filters: int, blocks: int, convs_per_block: int, dense_units: int,
                  dropout: float) -> keras.Model:
    return custom_cnn("cnn_attention", input_size=input_size, num_classes=num_classes, image_size=image_size,
                      filters=filters, blocks=blocks, convs_per_block=convs_per_block, dense_units=dense_units,
                      dropout=dropout, attention=attention, reduction=reduction)


def cnn_lstm_attention(*, input_size: int, num_classes: int, image_size: int, weights: str, attention: str,
                       reduction: int, filters: int, blocks: int, convs_per_block: int, lstm_units: int,
                       attention_units: int, dropout: float) -> keras.Model:
    return cnn_lstm_model("cnn_lstm_attention", input_size=input_size, num_classes=num_classes,
                          image_size=image_size, filters=filters, blocks=blocks, convs_per_block=convs_per_block,
                          lstm_units=lstm_units, dropout=dropout, attention=attention, reduction=reduction,
                          attention_units=attention_units)


def resnet50_lstm_attention(*, input_size: int, num_classes: int, image_size: int, weights: str, lstm_units: int,
                            attention_units: int, dropout: float, unfreeze_schedule: str, unfreeze_unit: str,
                            finetune_lr_factor: float) -> keras.Model:
    return resnet_lstm_model(
        "resnet50-lstm-attention", input_size=input_size, num_classes=num_classes, image_size=image_size,
        weights=weights, lstm_units=lstm_units, dropout=dropout, attention_units=attention_units,
        schedule={"unfreeze_schedule": unfreeze_schedule, "unfreeze_unit": unfreeze_unit,
                  "finetune_lr_factor": finetune_lr_factor},
    )
