"""What the engine builds before training: the networks, their optimizer and loss, the precision.

`build_models` returns the inference network and the training network that puts augmentation in
front of it. The optimizer keeps an exponential moving average of the weights when the spec asks
for one (Keras' own, updated in the graph each step), and `apply_weight_average` puts it into the
model once training is over: Keras would do that at the end of every `fit` call, which would feed
the average back into training between the phases of a fine-tuning schedule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from fer_models.training.spec import ExperimentSpec


def make_optimizer(spec: ExperimentSpec, learning_rate: float) -> Any:
    import keras

    ema = {"use_ema": True, "ema_momentum": spec.ema_decay} if spec.ema_decay else {}
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=spec.momentum, nesterov=spec.nesterov,
                                    weight_decay=spec.weight_decay or None, **ema)
    if spec.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=spec.weight_decay, **ema)
    return keras.optimizers.Adam(learning_rate=learning_rate, weight_decay=spec.weight_decay or None, **ema)


def compile_model(model: Any, spec: ExperimentSpec, learning_rate: float) -> None:
    import keras

    model.compile(
        optimizer=make_optimizer(spec, learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=spec.label_smoothing),
        metrics=["accuracy"],
    )
    if spec.ema_decay:
        # Training continues from the raw weights across fit calls; the engine applies the average once.
        model.optimizer.finalize_variable_values = lambda var_list: None


def apply_weight_average(model: Any) -> None:
    """Replace the trainable weights by the optimizer's moving average of them (no-op without one)."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # mixed_float16 wraps it in a loss scaler
    if optimizer is not None and getattr(inner, "use_ema", False):
        type(optimizer).finalize_variable_values(optimizer, model.trainable_weights)


def build_models(spec: ExperimentSpec, num_classes: int, image_size: int) -> tuple[Any, Any]:
    """(train_model, model): `model` is the inference network; `train_model` puts augmentation in front."""
    import keras

    from fer_models.data.augmentation import build_augmentation
    from fer_models.models.input_adapter import pixel_input
    from fer_models.models.registry import build_checked, get_model_info

    model = build_checked(get_model_info(spec.model), spec.hyperparameters, spec.input_size, weights=spec.weights,
                          num_classes=num_classes, image_size=image_size)
    augment = build_augmentation(spec.augmentation, seed=spec.seed)
    inputs = pixel_input(image_size)
    outputs = model(augment(inputs))
    return keras.Model(inputs, outputs, name=f"{model.name}_train"), model


def training_phases(spec: ExperimentSpec) -> list[Any]:
    """The model's phases, sorted, the first starting at epoch 0 (fer_models.models.finetune guarantees both)."""
    from fer_models.models.finetune import phases_of
    from fer_models.models.registry import get_model_info

    return phases_of(get_model_info(spec.model), spec.hyperparameters)


def phase_for_epoch(phases: list[Any], epoch: int) -> int:
    index = 0
    for i, phase in enumerate(phases):
        if phase.start_epoch <= epoch:
            index = i
    return index


def policy_name(precision: str, on_accelerator: bool) -> str:
    """The Keras dtype policy of a spec's `precision` ("auto": mixed_float16 on a GPU, float32 on a CPU)."""
    if precision == "auto":
        return "mixed_float16" if on_accelerator else "float32"
    return precision


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """The global dtype policy `name` while building and training; the previous one restored after."""
    import keras

    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
