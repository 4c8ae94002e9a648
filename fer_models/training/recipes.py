"""Recipes: named, complete ways to train a model, with their source and the figure it reports (TF-free).

A recipe is a partial ExperimentSpec (every training setting the source states, good choices where it
does not) plus where it comes from. A spec that names a recipe starts from the recipe's values, and
whatever the spec gives itself overrides them (`apply_recipe`), so `--recipe writeup-vgg19 --epochs 5`
is the write-up's VGG19 run for 5 epochs. The dataset is never part of a recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fer_models.errors import SpecError, lookup

WRITEUP = "The write-up (custom CNNs, VGG19, MobileNet, ResNet50 and LSTM/attention hybrids on FER2013, 80/10/10)"
# The write-up states `train.py --model vgg19 --epochs 50 --batch-size 64` and `--model resnet50-lstm
# --epochs 30 --batch-size 32`; the rest of its settings are Keras defaults or unstated.
_WRITEUP_DEFAULT = {"epochs": 50, "batch_size": 64, "optimizer": "adam", "learning_rate": 1e-3,
                    "augmentation": "standard", "early_stopping": {"patience": 10, "monitor": "val_accuracy"}}
# Pretrained bases fine-tune at a tenth of Adam's default rate, as Keras' transfer-learning guide does.
_WRITEUP_PRETRAINED = {**_WRITEUP_DEFAULT, "learning_rate": 1e-4, "weights": "imagenet"}


@dataclass(frozen=True)
class Reported:
    """What a recipe's source reports, to print next to ours."""

    accuracy: float | None  # fraction, e.g. 0.66
    f1_macro: float | None = None
    on: str = ""  # the test set the figure is on, in the source's words

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "f1_macro": self.f1_macro, "on": self.on}


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    source: str
    settings: Mapping[str, Any]  # ExperimentSpec fields (never `dataset`); `model` always
    reported: Reported | None = None
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)  # "writeup" marks the write-up's table

    @property
    def model(self) -> str:
        return str(self.settings["model"])

    def to_dict(self) -> dict[str, Any]:
        """What GET /recipes and `ferbench recipes --json` give for this recipe: `spec` is resolved."""
        return {"name": self.name, "model": self.model, "summary": self.summary, "source": self.source,
                "reported": self.reported.to_dict() if self.reported else None, "notes": self.notes,
                "tags": list(self.tags), "spec": resolved_settings(self.name)}


def _writeup(model: str, summary: str, reported: Reported | None = None, notes: str = "",
             **settings: Any) -> Recipe:
    base = _WRITEUP_PRETRAINED if settings.pop("pretrained", False) else _WRITEUP_DEFAULT
    return Recipe(f"writeup-{model}", summary, WRITEUP, {**base, "model": model, **settings}, reported, notes,
                  ("writeup",))


def _writeup_figure(accuracy: float) -> Reported:
    return Reported(accuracy, None, "FER2013, the write-up's own 10% test split")


_RECIPES: tuple[Recipe, ...] = (
    _writeup("vgg19", "VGG19 from ImageNet, whole base trainable, the write-up's stated command",
             _writeup_figure(0.66), pretrained=True),
    _writeup("vgg19-frozen", "VGG19 from ImageNet with the base frozen: only the head trains", pretrained=True,
             learning_rate=1e-3),
    _writeup("mobilenet", "MobileNet V1 from ImageNet, fine-tuned", _writeup_figure(0.66), pretrained=True),
    _writeup("mobilenetv2", "MobileNet V2 from ImageNet, fine-tuned", pretrained=True),
    _writeup("resnet50", "ResNet50 from ImageNet: the head first, then conv5 from epoch 5 and conv4 from epoch 10 "
             "at a tenth of the rate (the write-up's freeze-then-unfreeze)", _writeup_figure(0.61),
             pretrained=True, learning_rate=1e-3,
             hyperparameters={"unfreeze_schedule": "5:3,10:9", "finetune_lr_factor": 0.1}),
    _writeup("resnet50-lstm", "ResNet50 feature rows into an LSTM, the write-up's stated command",
             _writeup_figure(0.56), pretrained=True, learning_rate=1e-3, epochs=30, batch_size=32),
    _writeup("cnn-lstm", "CNN feature rows into an LSTM", _writeup_figure(0.26),
             "The write-up's 26% came from a shape-mismatch bug; this model reads the feature map row by row."),
    _writeup("cnn-attention", "Custom CNN with CBAM attention after every block (CNN-level attention)"),
    _writeup("cnn-lstm-attention", "CNN-LSTM with attention in the CNN and attention pooling over LSTM steps"),
    _writeup("resnet50-lstm-attention", "ResNet50-LSTM with attention pooling over the LSTM steps",
             pretrained=True, learning_rate=1e-3, epochs=30, batch_size=32),
    _writeup("cnn-small", "The write-up's smallest custom CNN"),
    _writeup("cnn-medium", "The write-up's mid-size custom CNN"),
    _writeup("cnn-large", "The write-up's largest custom CNN"),
    Recipe(
        "paper-vgg-fer",
        "VGG-style net trained from scratch at 48x48 with SGD, plateau schedule, ten-crop training and testing",
        "Khaireddin and Chen 2021, Facial Emotion Recognition: State of the Art Performance on FER2013 "
        "(arXiv:2105.03588)",
        {"model": "vgg-fer", "hyperparameters": {"filters": 64, "dense_units": 4096, "dropout": 0.2},
         "epochs": 300, "batch_size": 64, "optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9,
         "nesterov": True, "weight_decay": 1e-4, "lr_schedule": "plateau", "plateau_monitor": "val_accuracy",
         "plateau_factor": 0.75, "plateau_patience": 5, "augmentation": "vgg-fer", "tta": "ten_crop",
         "select_best": "val_accuracy"},
        Reported(0.7328, None, "FER2013 PublicTest"),
        "300 epochs of a 40M-parameter net: a GPU recipe (hours on one GPU); on 2 CPU cores one epoch takes "
        "tens of minutes.",
    ),
    Recipe(
        "paper-mini-xception",
        "mini-Xception (about 60k parameters) with Adam, plateau and early stopping on validation loss",
        "Arriaga, Valdenegro-Toro and Ploeger 2017, Real-time Convolutional Neural Networks for Emotion and "
        "Gender Classification (arXiv:1710.07557), and its training script",
        {"model": "mini-xception", "hyperparameters": {"base_filters": 8, "l2": 0.01}, "epochs": 1000,
         "batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3, "lr_schedule": "plateau",
         "plateau_monitor": "val_loss", "plateau_factor": 0.1, "plateau_patience": 12,
         "augmentation": "standard", "early_stopping": {"patience": 50, "monitor": "val_loss"}},
        Reported(0.66, None, "FER2013 test (PublicTest and PrivateTest)"),
        "The script trains up to 10,000 epochs; early stopping ends it, here after at most 1,000.",
    ),
    Recipe(
        "cpu-30min",
        "The most accurate model and settings we found that train in 30 minutes on 2 CPU cores",
        "FER Bench (docs/benchmarks.md, `python -m bench.cpu_recipe`)",
        {"model": "cnn-large", "hyperparameters": {"filters": 32, "blocks": 4, "convs_per_block": 2,
                                                   "first_block_convs": 1, "dense_units": 256, "dropout": 0.0},
         "epochs": 24, "batch_size": 128, "optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4,
         "lr_schedule": "one_cycle", "label_smoothing": 0.1, "augmentation": "standard",
         "precision": "mixed_bfloat16", "tta": "ten_crop", "time_budget_minutes": 30},
        Reported(0.6661, 0.6274, "FER2013's training folder, the project's 80/10/10 split (seed 42): the 10% test "
                                 "part, ten-crop; 20 epochs in 28.9 minutes on 2 CPU cores"),
        "Measured with `python -m bench.cpu_recipe` (docs/benchmarks.md). With a 30-minute budget the one-cycle "
        "schedule follows the clock, so a slower machine trains fewer epochs but still anneals.",
    ),
)

_BY_NAME: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}


def list_recipes() -> list[Recipe]:
    return list(_RECIPES)


def recipe_names() -> list[str]:
    return list(_BY_NAME)


def get_recipe(name: str) -> Recipe:
    return lookup(_BY_NAME, name, "recipe", SpecError, cutoff=0.6)


def _merge(base: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """`given` over `base`; mappings (hyperparameters, early_stopping) merge key by key."""
    out = dict(base)
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_recipe(data: Mapping[str, Any]) -> dict[str, Any]:
    """A spec dict with its recipe's settings under the values it gives itself (unchanged without a recipe).

    An override of the model drops the recipe's hyperparameters, which belong to the recipe's model.
    """
    name = data.get("recipe")
    if name is None:
        return dict(data)
    recipe = get_recipe(name)
    base = dict(recipe.settings)
    if "model" in data and data["model"] != recipe.model:
        base.pop("hyperparameters", None)
    return _merge(base, data)


def resolved_settings(name: str) -> dict[str, Any]:
    """Every spec value the recipe trains with (the model's defaults filled in), without the dataset."""
    from fer_models.training.spec import ExperimentSpec

    spec = ExperimentSpec.model_validate({"recipe": name}).model_dump(mode="json")
    return {k: v for k, v in spec.items() if k not in ("dataset", "split_seed")}
