"""Custom attention layers (pure Keras 3, registered so `.keras` files reload them)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fer_models")
class SqueezeExcitation(keras.layers.Layer):
    """Channel attention of Hu et al. (2018): global average pool -> bottleneck MLP -> sigmoid gate."""

    def __init__(self, reduction: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reduction = int(reduction)

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.reduction)
        self.squeeze = keras.layers.Dense(hidden, activation="relu", name="squeeze")
        self.excite = keras.layers.Dense(channels, activation="sigmoid", name="excite")
        self.squeeze.build((None, channels))
        self.excite.build((None, hidden))

    def call(self, inputs: Any) -> Any:
        gate = self.excite(self.squeeze(ops.mean(inputs, axis=(1, 2))))
        return inputs * gate[:, None, None, :]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reduction": self.reduction}


@keras.saving.register_keras_serializable(package="fer_models")
class CBAM(keras.layers.Layer):
    """Convolutional Block Attention Module (Woo et al. 2018): channel gate, then a 7x7 spatial gate."""

    def __init__(self, reduction: int = 8, kernel_size: int = 7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reduction = int(reduction)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.reduction)
        self.mlp_hidden = keras.layers.Dense(hidden, activation="relu", name="mlp_hidden")
        self.mlp_out = keras.layers.Dense(channels, name="mlp_out")
        self.spatial = keras.layers.Conv2D(1, self.kernel_size, padding="same", activation="sigmoid", name="spatial")
        self.mlp_hidden.build((None, channels))
        self.mlp_out.build((None, hidden))
        self.spatial.build((None, None, None, 2))

    def call(self, inputs: Any) -> Any:
        avg = self.mlp_out(self.mlp_hidden(ops.mean(inputs, axis=(1, 2))))
        mx = self.mlp_out(self.mlp_hidden(ops.max(inputs, axis=(1, 2))))
        x = inputs * ops.sigmoid(avg + mx)[:, None, None, :]
        pooled = ops.concatenate([ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)
        return x * self.spatial(pooled)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reduction": self.reduction, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="fer_models")
class AttentionPooling(keras.layers.Layer):
    """Additive attention over time steps: (N, T, D) -> (N, D) weighted by softmax(v . tanh(W h))."""

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        # Neither layer's size depends on the input; build() still builds both, so a saved model's
        # weights find their variables when it is loaded.
        self.score_hidden = keras.layers.Dense(self.units, activation="tanh", name="score_hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def build(self, input_shape: tuple) -> None:
        self.score_hidden.build((None, None, int(input_shape[-1])))
        self.score.build((None, None, self.units))

    def call(self, inputs: Any) -> Any:
        weights = ops.softmax(self.score(self.score_hidden(inputs)), axis=1)
        return ops.sum(inputs * weights, axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}
