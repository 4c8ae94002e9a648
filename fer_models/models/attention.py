"""Attention models: CBAM/SE inside the CNN, attention pooling over LSTM steps (Ming et al. 2022)."""

from __future__ import annotations

import keras

from fer_models.models.cnn import custom_cnn
from fer_models.models.hybrids import cnn_lstm_model, resnet_lstm_model


def cnn_attention(*, input_size: int = 48, num_classes: int = 7, image_size: int = 48, weights: str = "none",
                  attention: str = "cbam", reduction: int = 8, filters: int = 32, blocks: int = 3,
                  convs_per_block: int = 1, dense_units: int = 128, dropout: float = 0.3) -> keras.Model:
    return custom_cnn("cnn_attention", input_size=input_size, num_classes=num_classes, image_size=image_size,
                      filters=filters, blocks=blocks, convs_per_block=convs_per_block, dense_units=dense_units,
                      dropout=dropout, attention=attention, reduction=reduction)


def cnn_lstm_attention(*, input_size: int = 48, num_classes: int = 7, image_size: int = 48, weights: str = "none",
                       attention: str = "se", reduction: int = 8, filters: int = 32, blocks: int = 3,
                       convs_per_block: int = 1, lstm_units: int = 128, attention_units: int = 64,
                       dropout: float = 0.3) -> keras.Model:
    return cnn_lstm_model("cnn_lstm_attention", input_size=input_size, num_classes=num_classes,
                          image_size=image_size, filters=filters, blocks=blocks, convs_per_block=convs_per_block,
                          lstm_units=lstm_units, dropout=dropout, attention=attention, reduction=reduction,
                          attention_units=attention_units)


def resnet50_lstm_attention(*, input_size: int = 224, num_classes: int = 7, image_size: int = 48,
                            weights: str = "none", lstm_units: int = 128, attention_units: int = 64,
                            dropout: float = 0.5, unfreeze_schedule: str = "5:3,10:9", unfreeze_unit: str = "blocks",
                            finetune_lr_factor: float = 0.1) -> keras.Model:
    return resnet_lstm_model(
        "resnet50-lstm-attention", input_size=input_size, num_classes=num_classes, image_size=image_size,
        weights=weights, lstm_units=lstm_units, dropout=dropout, attention_units=attention_units,
        schedule={"unfreeze_schedule": unfreeze_schedule, "unfreeze_unit": unfreeze_unit,
                  "finetune_lr_factor": finetune_lr_factor},
    )
