"""The model catalogue (TF-free): names, hyperparameter schemas, input sizes, and lazy building.

Listing and validating never import Keras, so the API and the spec validator can use this module;
`get_model` imports the builder module (and with it Keras) only when a model is actually built.

The catalogue is the one place a model's defaults live: builders take every argument by keyword
without defaults (as a timm model entry point gets its config), and `get_model` fills them from here.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from fer_models.data.labels import NUM_CLASSES
from fer_models.errors import ModelError, lookup
from fer_models.models.hyperparams import HyperParam
from fer_models.models.schedule import schedule_problem

@dataclass(frozen=True)
class ModelInfo:
    """A catalogue entry; `builder` is "module:function" under fer_models.models, imported lazily."""

    name: str
    family: str
    description: str
    builder: str
    hyperparameters: tuple[HyperParam, ...]
    min_input_size: int
    default_input_size: int
    imagenet_weights: bool
    # A variant whose pretrained base never trains (only the head does): its builder is the trainable
    # model's, given trainable_base=False, and its training has a single head-only phase.
    frozen_base: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        return {hp.name: hp.default for hp in self.hyperparameters}

    def builder_arguments(self, hp: Mapping[str, Any]) -> dict[str, Any]:
        """The builder's model arguments for filled hyperparameters `hp` (sizes and weights aside)."""
        return {**hp, "trainable_base": False} if self.frozen_base else dict(hp)

    def base_trains(self, hp: Mapping[str, Any]) -> bool:
        """Whether the pretrained base (if any) may train under filled hyperparameters `hp`."""
        return self.builder_arguments(hp).get("trainable_base", True) is not False

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {hp.name: hp.json_schema() for hp in self.hyperparameters},
            "additionalProperties": False,
        }

    def to_dict(self) -> dict[str, Any]:
        """What GET /models returns for this model."""
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "defaults": self.defaults,
            "hyperparameters": self.json_schema(),
            "min_input_size": self.min_input_size,
            "default_input_size": self.default_input_size,
            "imagenet_weights": self.imagenet_weights,
        }


# --- shared hyperparameter groups -------------------------------------------------------------

def _dropout(default: float) -> HyperParam:
    return HyperParam("dropout", "float", default, "Dropout rate before the classifier", 0.0, 0.9)


def _dense(default: int, minimum: int = 8) -> HyperParam:
    return HyperParam("dense_units", "int", default, "Units of the hidden dense layer of the head", minimum, 8192)


def _conv_stack(filters: int, blocks: int, convs: int) -> tuple[HyperParam, ...]:
    return (
        HyperParam("filters", "int", filters, "Filters of the first block (doubled per block, capped at 512)", 4, 512),
        HyperParam("blocks", "int", blocks, "Number of conv blocks, each ending in 2x2 max pooling", 1, 5),
        HyperParam("convs_per_block", "int", convs, "Conv/BN/ReLU layers per block", 1, 4),
    )


# The write-up's fine-tuning of a ResNet50 base: the head alone for 5 epochs, then the top 3 residual
# blocks (conv5), from epoch 10 the top 9 (conv4 too), at a tenth of the learning rate.
_FINETUNING = (
    HyperParam(
        "unfreeze_schedule", "str", "5:3,10:9",
        "Comma-separated EPOCH:COUNT steps: from EPOCH on, the top COUNT residual blocks (or weighted layers) of "
        "the base train at the fine-tuning rate ('all' = whole base); before the first step only the head trains "
        "(base frozen); '' keeps the base frozen; '0:all' trains everything from the start",
        check=schedule_problem,
        check_hint="'' or comma-separated EPOCH:COUNT with increasing epochs, COUNT a positive integer or 'all'",
    ),
    HyperParam("unfreeze_unit", "str", "blocks", "What COUNT counts: residual blocks (16 in ResNet50, conv5 = top 3) "
               "or layers with weights", choices=("blocks", "layers")),
    HyperParam("finetune_lr_factor", "float", 0.1, "Learning-rate factor once part of the base is unfrozen", 1e-4, 1.0),
)


# Full resolution is where a conv costs most: one conv there instead of two is most of a CPU epoch's time.
_FIRST_BLOCK = HyperParam("first_block_convs", "int", 0, "Conv/BN/ReLU layers of the first block (0: convs_per_block)",
                          0, 4)
_LSTM_UNITS = HyperParam("lstm_units", "int", 128, "LSTM units reading the feature-map rows", 8, 2048)
_ATTN_UNITS = HyperParam("attention_units", "int", 64, "Hidden units of the attention pooling over time steps", 4, 1024)
_REDUCTION = HyperParam("reduction", "int", 8, "Channel reduction ratio of the attention MLP", 1, 64)

_CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo(
        "cnn-small", "cnn",
        "Custom CNN, 3 conv/BN/ReLU blocks + dense head; the smallest of the write-up's custom CNNs",
        "cnn:cnn_small", _conv_stack(32, 3, 1) + (_FIRST_BLOCK, _dense(128), _dropout(0.3)), 32, 48, False,
    ),
    ModelInfo(
        "cnn-medium", "cnn",
        "Custom CNN, 3 blocks of 2 convs, wider head; the write-up's mid-size custom CNN",
        "cnn:cnn_medium", _conv_stack(64, 3, 2) + (_FIRST_BLOCK, _dense(256), _dropout(0.4)), 32, 48, False,
    ),
    ModelInfo(
        "cnn-large", "cnn",
        "Custom CNN, 4 blocks of 2 convs, 512-unit head; the write-up's largest custom CNN",
        "cnn:cnn_large", _conv_stack(64, 4, 2) + (_FIRST_BLOCK, _dense(512), _dropout(0.5)), 32, 48, False,
    ),
    ModelInfo(
        "vgg19", "vgg",
        "Keras VGG19 conv base + new dense head, base trainable; the write-up's best model (66% on FER2013)",
        "vgg:vgg19",
        (HyperParam("trainable_base", "bool", True, "Train the VGG19 conv base (false: only the head trains)"),
         _dense(256), _dropout(0.5)),
        32, 224, True,
    ),
    ModelInfo(
        "vgg19-frozen", "vgg",
        "VGG19 with its conv base frozen, only the head trains; the write-up's frozen-feature variant",
        "vgg:vgg19", (_dense(256), _dropout(0.5)), 32, 224, True, frozen_base=True,
    ),
    ModelInfo(
        "mobilenet", "mobilenet",
        "MobileNet V1 base (width multiplier alpha) + new head; the write-up's light ImageNet model",
        "mobilenet:mobilenet",
        (HyperParam("alpha", "float", 1.0, "Width multiplier of the base", choices=(0.25, 0.5, 0.75, 1.0)),
         _dense(0, 0), _dropout(0.2)),
        32, 128, True,
    ),
    ModelInfo(
        "mobilenetv2", "mobilenet",
        "MobileNet V2 base (width multiplier alpha) + new head; the write-up's light ImageNet model",
        "mobilenet:mobilenetv2",
        (HyperParam("alpha", "float", 1.0, "Width multiplier of the base", choices=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
         _dense(0, 0), _dropout(0.2)),
        32, 96, True,
    ),
    ModelInfo(
        "resnet50", "resnet",
        "ResNet50 base + head, trained head-first then unfrozen stage by stage at a lower rate (the write-up's "
        "fine-tuning strategy)",
        "resnet:resnet50", (_dense(256), _dropout(0.5)) + _FINETUNING, 32, 224, True,
    ),
    ModelInfo(
        "cnn-lstm", "hybrid",
        "CNN whose feature map is read row by row as a sequence into an LSTM; the write-up's CNN-LSTM got 26% "
        "from shape mismatches, this one trains properly",
        "hybrids:cnn_lstm", _conv_stack(32, 3, 1) + (_LSTM_UNITS, _dropout(0.3)), 32, 48, False,
    ),
    ModelInfo(
        "resnet50-lstm", "hybrid",
        "ResNet50 feature map read row by row into an LSTM; the write-up's ResNet-LSTM hybrid",
        "hybrids:resnet50_lstm", (_LSTM_UNITS, _dropout(0.5)) + _FINETUNING, 64, 224, True,
    ),
    ModelInfo(
        "cnn-attention", "attention",
        "Custom CNN with CBAM or squeeze-and-excitation attention after every block (CNN-level attention of "
        "Ming et al. 2022)",
        "attention:cnn_attention",
        (HyperParam("attention", "str", "cbam", "Block attention: CBAM or squeeze-and-excitation", choices=("cbam", "se")),
         _REDUCTION) + _conv_stack(32, 3, 1) + (_dense(128), _dropout(0.3)),
        32, 48, False,
    ),
    ModelInfo(
        "cnn-lstm-attention", "attention",
        "Two-level attention CNN-LSTM (Ming et al. 2022): SE/CBAM in the CNN, attention pooling over LSTM steps",
        "attention:cnn_lstm_attention",
        (HyperParam("attention", "str", "se", "CNN-level attention", choices=("cbam", "se", "none")), _REDUCTION)
        + _conv_stack(32, 3, 1) + (_LSTM_UNITS, _ATTN_UNITS, _dropout(0.3)),
        32, 48, False,
    ),
    ModelInfo(
        "resnet50-lstm-attention", "attention",
        "ResNet50 feature rows into an LSTM with attention pooling over time steps (LSTM-level attention of "
        "Ming et al. 2022)",
        "attention:resnet50_lstm_attention",
        (_LSTM_UNITS, _ATTN_UNITS, _dropout(0.5)) + _FINETUNING, 64, 224, True,
    ),
    ModelInfo(
        "mini-xception", "reference",
        "mini-Xception of Arriaga et al. 2017: residual depthwise-separable modules, about 60k parameters, "
        "about 66% on FER2013",
        "reference:mini_xception",
        (HyperParam("base_filters", "int", 8, "Filters of the entry convs (modules use 2x, 4x, 8x, 16x)", 4, 64),
         HyperParam("l2", "float", 0.01, "L2 regularisation of the conv kernels (the paper used 0.01)", 0.0, 1.0)),
        32, 48, False,
    ),
    ModelInfo(
        "vgg-fer", "reference",
        "VGG-style net for 48x48 trained from scratch (Khaireddin & Chen 2021, about 73% on FER2013; the paper's "
        "head had 4096 units)",
        "reference:vgg_fer",
        (HyperParam("filters", "int", 64, "Filters of the first of 4 double-conv stages (doubled per stage)", 8, 256),
         _dense(1024), _dropout(0.2)),
        32, 48, False,
    ),
)

_BY_NAME: dict[str, ModelInfo] = {info.name: info for info in _CATALOGUE}


def list_models() -> list[str]:
    """Every registered name, in catalogue order."""
    return [info.name for info in _CATALOGUE]


def list_model_infos() -> list[ModelInfo]:
    return list(_CATALOGUE)


def get_model_info(name: str) -> ModelInfo:
    return lookup(_BY_NAME, name, "model", ModelError)


def check_hyperparameters(name: str, hp: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The model's defaults overlaid with the valid values of `hp`, and every problem by hyperparameter name."""
    info = get_model_info(name)
    if hp is None:
        hp = {}
    if not isinstance(hp, dict):
        return info.defaults, {"": f"model {name!r}: hyperparameters must be a mapping of name to value, "
                                   f"got {type(hp).__name__}"}
    specs = {p.name: p for p in info.hyperparameters}
    filled, problems = info.defaults, {}
    for key, value in hp.items():
        if key not in specs:
            close = difflib.get_close_matches(str(key), list(specs), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems[key] = (f"model {name!r}: unknown hyperparameter {key}={value!r}{hint}; "
                             f"accepted: {', '.join(specs) or 'none'}")
            continue
        try:
            filled[key] = specs[key].validate(name, value)
        except ModelError as exc:
            problems[key] = str(exc)
    return filled, problems


def validate_hyperparameters(name: str, hp: dict[str, Any] | None) -> dict[str, Any]:
    """The model's defaults overlaid with `hp`, each value checked against its schema (all problems in one error)."""
    filled, problems = check_hyperparameters(name, hp)
    if problems:
        raise ModelError("; ".join(problems.values()))
    return filled


def validate_input_size(name: str, size: Any) -> int:
    info = get_model_info(name)
    if isinstance(size, bool) or not isinstance(size, int):
        raise ModelError(f"model {name!r}: input_size={size!r} is not an integer; accepted: {info.min_input_size}..1024")
    if size < info.min_input_size:
        raise ModelError(
            f"model {name!r}: input_size={size} is below the minimum {info.min_input_size} for this architecture; "
            f"accepted: {info.min_input_size}..1024 (default {info.default_input_size})"
        )
    if size > 1024:
        raise ModelError(f"model {name!r}: input_size={size} is above the maximum 1024; accepted: {info.min_input_size}..1024")
    return size


def resolve_builder(info: ModelInfo) -> Callable[..., Any]:
    module_name, function = info.builder.split(":")
    module = importlib.import_module(f"fer_models.models.{module_name}")
    return getattr(module, function)


def get_model(
    name: str,
    *,
    input_size: int | None = None,
    weights: str = "none",
    num_classes: int = NUM_CLASSES,
    image_size: int = 48,
    **hp: Any,
) -> Any:
    """Build `name` as a keras.Model taking (image_size, image_size, 1) pixels 0..255, returning softmax."""
    info = get_model_info(name)
    filled = validate_hyperparameters(name, hp)
    size = validate_input_size(name, info.default_input_size if input_size is None else input_size)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"model {name!r}: num_classes={num_classes!r} must be an integer >= 2")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 8 <= image_size <= 1024:
        raise ModelError(f"model {name!r}: image_size={image_size!r} must be an integer in [8, 1024]")
    if weights == "imagenet" and not info.imagenet_weights:
        raise ModelError(f"model {name!r} has no ImageNet weights; accepted weights: none or a weights file")
    if weights not in ("none", "imagenet") and not Path(str(weights)).is_file():
        raise ModelError(f"model {name!r}: weights={weights!r} is neither 'none', 'imagenet' nor an existing weights file")
    return build_checked(info, filled, size, weights=weights, num_classes=num_classes, image_size=image_size)


def build_checked(info: ModelInfo, hp: Mapping[str, Any], input_size: int, *, weights: str, num_classes: int,
                  image_size: int) -> Any:
    """Build from values already checked (a validated ExperimentSpec's, or get_model's): no second validation."""
    model = resolve_builder(info)(
        input_size=input_size, num_classes=num_classes, image_size=image_size,
        weights="imagenet" if weights == "imagenet" else "none", **info.builder_arguments(hp),
    )
    if weights not in ("none", "imagenet"):
        from fer_models.models.weights import load_weights_file

        load_weights_file(model, Path(weights), info.name)
    return model
