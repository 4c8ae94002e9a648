"""Parameter counts, analytic FLOPs and saved size of a model."""

from __future__ import annotations

import keras

from fer_models.models.figures import count_flops, model_figures
from fer_models.models.registry import get_model


def test_flops_of_a_hand_checkable_model() -> None:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.SeparableConv2D(6, 3, padding="valid")(x)  # 6x6 output
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    expected = 2 * 8 * 8 * 9 * 3 * 4 + 2 * 6 * 6 * (9 * 4 + 4 * 6) + 2 * 6 * 6 * 6 * 5
    assert count_flops(model) == expected


def test_figures_of_a_zoo_model() -> None:
    model = get_model("resnet50", input_size=32)
    figures = model_figures(model)
    assert figures.params_total == model.count_params()
    assert figures.params_trainable == sum(int(w.numpy().size) for w in model.trainable_weights)
    assert figures.params_trainable < figures.params_total  # the base starts frozen
    assert figures.model_bytes > 4 * figures.params_total  # float32 weights at least
    # Conv-dominated: FLOPs grow with the pixel count (4x the pixels, about 4x the FLOPs).
    ratio = count_flops(get_model("cnn-small", input_size=64)) / count_flops(get_model("cnn-small", input_size=32))
    assert 3.5 < ratio < 4.1
    assert count_flops(get_model("cnn-lstm")) > count_flops(get_model("cnn-lstm", lstm_units=8))
