"""ResNet50 base + head, with the write-up's head-first, then stage-by-stage unfreezing (see finetune.py)."""

from __future__ import annotations

import keras

from fer_models.models.cnn import dense_head
from fer_models.models.finetune import apply_phase
from fer_models.models.input_adapter import InputAdapter, pixel_input
from fer_models.models.weights import imagenet_base


def resnet_features(inputs: keras.KerasTensor, *, input_size: int, weights: str, model_name: str) -> keras.KerasTensor:
    x = InputAdapter(input_size, 3, "caffe", name="input_adapter")(inputs)
    return imagenet_base("resnet50", input_size=input_size, weights=weights, model_name=model_name)(x)


def first_phase(model: keras.Model, name: str, hp: dict) -> keras.Model:
    """The built model is already in its epoch-0 state (head only, unless the schedule starts at 0).

    `hp` holds the builder's own, already checked schedule arguments."""
    from fer_models.models.finetune import phases_of
    from fer_models.models.registry import get_model_info

    apply_phase(model, phases_of(get_model_info(name), hp)[0])
    return model


def resnet50(*, input_size: int, num_classes: int, image_size: int, weights: str, dense_units: int, dropout: float,
             unfreeze_schedule: str, unfreeze_unit: str, finetune_lr_factor: float) -> keras.Model:
    inputs = pixel_input(image_size)
    x = resnet_features(inputs, input_size=input_size, weights=weights, model_name="resnet50")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, dense_head(x, dense_units=dense_units, dropout=dropout, num_classes=num_classes),
                        name="resnet50")
    return first_phase(model, "resnet50", {"unfreeze_schedule": unfreeze_schedule, "unfreeze_unit": unfreeze_unit,
                                           "finetune_lr_factor": finetune_lr_factor})
