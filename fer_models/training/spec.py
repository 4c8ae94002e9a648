"""The experiment spec: every knob of one training run, validated before any training starts.

TF-free: the API validates request bodies with this class, so the model registry and the
augmentation presets are imported lazily and only their TF-free parts are touched.
Every range error names the accepted range (pydantic's own `ge`/`le` messages name only one bound).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from fer_models.errors import FerBenchError, ModelError, SpecError

_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HYPERPARAMETER_ERROR = "hyperparameter_error"  # its ctx["problems"]: hyperparameter name -> message


MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 4096
# Validation-context keys by which a caller lowers a field's maximum (the API: its settings' caps), so
# the one range in force is the one every message and the request schema state.
CAPS = {"epochs": "max_epochs", "batch_size": "max_batch_size"}


def _int_range(lo: int, hi: int, *, cap: str | None = None) -> AfterValidator:
    def check(value: int, info: ValidationInfo) -> int:
        top = min(hi, (info.context or {}).get(cap, hi)) if cap else hi
        if not lo <= value <= top:
            raise ValueError(f"must be an integer from {lo} to {top}, got {value}")
        return value

    return AfterValidator(check)


def _float_range(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> AfterValidator:
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")

    def check(value: float) -> float:
        below = value <= lo if lo_open else value < lo
        above = value >= hi if hi_open else value > hi
        if not math.isfinite(value) or below or above:
            raise ValueError(f"must be a number in {left}{lo:g}, {hi:g}{right}, got {value}")
        return value

    return AfterValidator(check)


def _schema(lo: float, hi: float, **extra: Any) -> dict[str, Any]:
    return {"minimum": lo, "maximum": hi, **extra}


Epochs = Annotated[int, _int_range(1, MAX_EPOCHS, cap=CAPS["epochs"]), Field(json_schema_extra=_schema(1, MAX_EPOCHS))]
BatchSize = Annotated[int, _int_range(1, MAX_BATCH_SIZE, cap=CAPS["batch_size"]),
                      Field(json_schema_extra=_schema(1, MAX_BATCH_SIZE))]
LearningRate = Annotated[float, _float_range(0.0, 1e4, lo_open=True), Field(json_schema_extra=_schema(0, 1e4))]
Momentum = Annotated[float, _float_range(0.0, 1.0, hi_open=True), Field(json_schema_extra=_schema(0, 1))]
WeightDecay = Annotated[float, _float_range(0.0, 1.0), Field(json_schema_extra=_schema(0, 1))]
WarmupEpochs = Annotated[int, _int_range(0, 100), Field(json_schema_extra=_schema(0, 100))]
LabelSmoothing = Annotated[float, _float_range(0.0, 0.5), Field(json_schema_extra=_schema(0, 0.5))]
Seed = Annotated[int, _int_range(0, 2**31 - 1), Field(json_schema_extra=_schema(0, 2**31 - 1))]
Patience = Annotated[int, _int_range(1, 1000), Field(json_schema_extra=_schema(1, 1000))]
InputSize = Annotated[int, _int_range(8, 1024), Field(json_schema_extra=_schema(8, 1024))]  # per-model minimum: registry
PlateauFactor = Annotated[float, _float_range(0.0, 1.0, lo_open=True, hi_open=True), Field(json_schema_extra=_schema(0, 1))]
MixAlpha = Annotated[float, _float_range(0.0, 10.0), Field(json_schema_extra=_schema(0, 10))]
BudgetMinutes = Annotated[
    float, _float_range(0.0, 7 * 24 * 60.0, lo_open=True), Field(json_schema_extra=_schema(0, 7 * 24 * 60))
]


class EarlyStoppingSpec(BaseModel):
    """Stop when `monitor` has not improved for `patience` epochs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patience: Patience = Field(default=5, description="Epochs without improvement before training stops")
    monitor: Literal["val_loss", "val_accuracy"] = Field(default="val_loss", description="The validation metric watched")
    restore_best_weights: bool = Field(default=True, description="End with the weights of the best epoch")


class ExperimentSpec(BaseModel):
    """One experiment, resolved as it is validated: unknown fields are rejected, and the model's default
    hyperparameters and input size fill what the spec leaves out, so a stored spec says every value.

    A spec that names a `recipe` starts from the recipe's settings; the fields it gives override them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    recipe: str | None = Field(default=None, description="Named recipe to start from (`ferbench recipes`); "
                                                         "every other field given overrides it")
    model: str = Field(description="Model name from the catalogue (`ferbench models`)")
    dataset: str = Field(default="synthetic", description="Dataset name (`ferbench datasets`)")
    epochs: Epochs = Field(default=10, description="Epochs")
    batch_size: BatchSize = Field(default=64, description="Batch size")
    learning_rate: LearningRate = Field(default=1e-3, description="Learning rate")
    optimizer: Literal["adam", "sgd", "adamw"] = Field(default="adam", description="Optimizer")
    momentum: Momentum = Field(default=0.9, description="SGD momentum in [0, 1) (ignored by adam/adamw)")
    nesterov: bool = Field(default=False, description="Nesterov momentum (sgd only)")
    weight_decay: WeightDecay = Field(default=0.0, description="Weight decay in [0, 1]")
    lr_schedule: Literal["constant", "cosine", "plateau", "one_cycle"] = Field(
        default="constant", description="Learning-rate schedule (one_cycle: up to the rate over the first 30% of "
                                        "steps, then cosine annealing to 1/250,000 of it)")
    plateau_monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"] = Field(
        default="val_loss", description="The metric the plateau schedule watches")
    plateau_factor: PlateauFactor = Field(default=0.5, description="Plateau schedule: the rate is multiplied by this "
                                                                   "when the metric stalls, in (0, 1)")
    plateau_patience: Patience = Field(default=2, description="Plateau schedule: epochs without improvement before "
                                                              "the rate drops")
    warmup_epochs: WarmupEpochs = Field(default=0, description="Linear warm-up epochs; fewer than `epochs`")
    label_smoothing: LabelSmoothing = Field(default=0.0, description="Label smoothing, 0 to 0.5")
    class_weighting: Literal["none", "balanced"] = Field(default="none", description="Class weights in the loss "
                                                          "(balanced: inverse class frequency)")
    augmentation: str = Field(default="none", description="Augmentation preset name")
    mixup: MixAlpha = Field(default=0.0, description="Mixup's Beta(alpha, alpha); 0 is off")
    cutmix: MixAlpha = Field(default=0.0, description="CutMix's Beta(alpha, alpha); 0 is off (with mixup too: each "
                                                      "batch uses one of the two)")
    ema_decay: float = Field(default=0.0, description="Exponential moving average of the weights, evaluated instead "
                                                      "of the raw ones: 0 (off) or in [0.9, 0.99999]")
    select_best: Literal["last", "val_accuracy", "val_loss"] = Field(
        default="last", description="Which epoch's weights are evaluated: the last, or the best by this metric")
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = Field(
        default="auto", description="Compute precision (auto: mixed_float16 on a GPU, float32 on a CPU; "
                                    "mixed_bfloat16 is faster on CPUs with AVX512_BF16 or AMX)")
    early_stopping: EarlyStoppingSpec | None = Field(default=None, description="Off when null")
    input_size: InputSize | None = Field(default=None, validate_default=True,
                                         description="Size the model resizes its input to; unset: the model's default")
    seed: Seed = Field(default=0, description="Seed of the weights' initialisation, shuffling and augmentation")
    split_seed: Seed = Field(default=42, description="Seed of the train/validation/test split")
    time_budget_minutes: BudgetMinutes | None = Field(default=None, description="Stop gracefully after this much training")
    hyperparameters: dict[str, Any] = Field(default_factory=dict, validate_default=True,
                                            description="Model hyperparameters, checked against "
                                                                              "the model's schema")
    weights: str = Field(default="none", description="none or imagenet (the CLI also accepts a .weights.h5/.keras file)")
    tta: Literal["none", "flip", "ten_crop"] = Field(default="none", description="Test-time augmentation")

    @model_validator(mode="before")
    @classmethod
    def _start_from_recipe(cls, data: Any) -> Any:
        from fer_models.training.recipes import apply_recipe, recipe_names

        # An unknown name is left to the `recipe` field's check, which reports it at its own location.
        if isinstance(data, Mapping) and data.get("recipe") in recipe_names():
            return apply_recipe(data)
        return data

    @field_validator("recipe", "model")
    @classmethod
    def _registered(cls, value: str | None, info: ValidationInfo) -> str | None:
        from fer_models.models.registry import get_model_info
        from fer_models.training.recipes import get_recipe

        if value is not None:
            try:
                (get_recipe if info.field_name == "recipe" else get_model_info)(value)
            except FerBenchError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str, info: ValidationInfo) -> str:
        if not _DATASET_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a dataset name: use 1-64 letters, digits, '_', '.', '-' (e.g. synthetic, fer2013)"
            )
        known = (info.context or {}).get("datasets")  # a caller that knows which datasets exist (the API)
        if known is not None and value not in known:
            raise ValueError(f"unknown dataset {value!r}; available: {', '.join(known)}")
        return value

    @field_validator("augmentation")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        from fer_models.data.augmentation import AUGMENTATION_PRESETS

        if value not in AUGMENTATION_PRESETS:
            raise ValueError(f"unknown preset {value!r}; accepted: {', '.join(sorted(AUGMENTATION_PRESETS))}")
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str, info: ValidationInfo) -> str:
        if value == "imagenet" and "model" in info.data:
            from fer_models.models.registry import get_model_info

            if not get_model_info(info.data["model"]).imagenet_weights:
                raise ValueError(f"model {info.data['model']!r} has no ImageNet weights; accepted: none")
        if value in ("none", "imagenet"):
            return value
        # Only local callers (the CLI) may name a file: an API body must never make the worker read paths.
        if info.context and info.context.get("allow_weight_files"):
            if not Path(value).is_file():
                raise ValueError(f"weights file {value!r} does not exist; accepted: none, imagenet or an existing file")
            return str(Path(value).resolve())
        raise ValueError(f"{value!r} is not accepted; accepted: none, imagenet")

    # Checks that need another field are field validators reading the fields declared before them
    # (`info.data`, where a field is missing when it failed), so every bad field is named at once.

    @field_validator("ema_decay")
    @classmethod
    def _ema_decay(cls, value: float) -> float:
        if value != 0.0 and not (math.isfinite(value) and 0.9 <= value <= 0.99999):
            raise ValueError(f"must be 0 (off) or a number in [0.9, 0.99999], got {value}")
        return value

    @model_validator(mode="after")
    def _one_choice_of_weights(self) -> ExperimentSpec:
        if self.ema_decay and self.select_best != "last":
            raise ValueError("ema_decay and select_best both choose the evaluated weights: set select_best=last "
                             "or ema_decay=0")
        if self.ema_decay and self.early_stopping is not None and self.early_stopping.restore_best_weights:
            raise ValueError("ema_decay and early_stopping.restore_best_weights both choose the evaluated weights: "
                             "set early_stopping.restore_best_weights=false or ema_decay=0")
        return self

    @field_validator("warmup_epochs")
    @classmethod
    def _warmup_before_the_end(cls, value: int, info: ValidationInfo) -> int:
        epochs = info.data.get("epochs")
        if value > 0 and epochs is not None and value >= epochs:
            raise ValueError(f"must be smaller than epochs={epochs}")
        return value

    @field_validator("input_size")
    @classmethod
    def _size_for_the_model(cls, value: int | None, info: ValidationInfo) -> int | None:
        from fer_models.models.registry import get_model_info, validate_input_size

        if "model" not in info.data:
            return value
        try:
            return validate_input_size(info.data["model"], value if value is not None
                                       else get_model_info(info.data["model"]).default_input_size)
        except ModelError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("hyperparameters")
    @classmethod
    def _model_hyperparameters(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from fer_models.models.registry import check_hyperparameters

        if "model" not in info.data:
            return value
        filled, problems = check_hyperparameters(info.data["model"], value)
        if problems:
            # One error for the field; ctx keeps each hyperparameter's problem for callers that name them.
            raise PydanticCustomError(HYPERPARAMETER_ERROR, "{message}",
                                      {"message": "; ".join(problems.values()), "problems": problems})
        return filled


def capped_json_schema(context: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    """ExperimentSpec's JSON schema (`kwargs` to model_json_schema) with the maxima `context` enforces."""
    schema = ExperimentSpec.model_json_schema(**kwargs)
    for field, key in CAPS.items():
        prop = schema["properties"][field]
        prop["maximum"] = min(prop["maximum"], context.get(key, prop["maximum"]))
    return schema


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field=value: message`, for the CLI and logs."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field; accepted: {', '.join(ExperimentSpec.model_fields)}"
        if not loc:  # a cross-field check: its message names the fields itself
            parts.append(msg)
            continue
        value = err.get("input")
        shown = f"={value!r}" if not isinstance(value, dict) else ""
        parts.append(f"{loc}{shown}: {msg}")
    return "; ".join(parts)


def parse_spec(data: dict[str, Any], *, allow_weight_files: bool = False) -> ExperimentSpec:
    """Validate a dict into a spec, raising SpecError with every field, value and accepted range."""
    try:
        return ExperimentSpec.model_validate(data, context={"allow_weight_files": allow_weight_files})
    except ValidationError as exc:
        raise SpecError(f"invalid experiment spec: {describe_validation_error(exc)}") from None
    except FerBenchError as exc:  # e.g. a registry error raised outside a validator
        raise SpecError(f"invalid experiment spec: {exc}") from None
