"""The catalogue and its checks, without Keras: names, schemas, and every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fer_models.errors import ModelError
from fer_models.models.registry import (
    get_model,
    get_model_info,
    list_model_infos,
    list_models,
    validate_hyperparameters,
    validate_input_size,
)

ISSUE_NAMES = {
    "cnn-small", "cnn-medium", "cnn-large", "vgg19", "vgg19-frozen", "mobilenet", "mobilenetv2", "resnet50",
    "cnn-lstm", "resnet50-lstm", "cnn-attention", "cnn-lstm-attention", "resnet50-lstm-attention",
    "mini-xception", "vgg-fer",
}


def test_catalogue_and_validation_do_not_import_a_deep_learning_framework() -> None:
    code = (
        "import sys\n"
        "from fer_models.models.registry import list_model_infos, validate_hyperparameters, validate_input_size\n"
        "from fer_models.models.finetune import training_phases\n"
        "for info in list_model_infos():\n"
        "    validate_hyperparameters(info.name, {})\n"
        "    validate_input_size(info.name, info.min_input_size)\n"
        "    info.to_dict()\n"
        "    training_phases(info.name, {})\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_registered_with_a_description_and_sane_sizes() -> None:
    assert set(list_models()) == ISSUE_NAMES
    for info in list_model_infos():
        assert info.description and "\n" not in info.description
        assert 8 <= info.min_input_size <= info.default_input_size
        assert info.builder.count(":") == 1


def test_to_dict_is_json_with_defaults_matching_the_schema() -> None:
    for info in list_model_infos():
        doc = json.loads(json.dumps(info.to_dict()))
        assert doc["name"] == info.name
        props = doc["hyperparameters"]["properties"]
        assert doc["hyperparameters"]["additionalProperties"] is False
        assert set(props) == set(doc["defaults"])
        for key, value in doc["defaults"].items():
            assert props[key]["default"] == value
            # Each default must pass the model's own validation.
        assert validate_hyperparameters(info.name, doc["defaults"]) == doc["defaults"]


def test_imagenet_capable_models_are_the_keras_application_ones() -> None:
    capable = {info.name for info in list_model_infos() if info.imagenet_weights}
    assert capable == {"vgg19", "vgg19-frozen", "mobilenet", "mobilenetv2", "resnet50", "resnet50-lstm",
                       "resnet50-lstm-attention"}


def test_unknown_model_lists_names_and_suggests_the_closest() -> None:
    with pytest.raises(ModelError) as err:
        get_model_info("resnet5O")
    message = str(err.value)
    assert "Did you mean 'resnet50'?" in message
    assert all(name in message for name in ISSUE_NAMES)


def test_validation_fills_defaults_and_keeps_overrides() -> None:
    filled = validate_hyperparameters("cnn-small", {"filters": 16})
    assert filled["filters"] == 16
    assert filled["blocks"] == get_model_info("cnn-small").defaults["blocks"]
    assert validate_hyperparameters("mobilenet", {"alpha": 1})["alpha"] == 1.0


@pytest.mark.parametrize(
    ("model", "hp", "expected"),
    [
        ("cnn-small", {"filtres": 16}, ["filtres=16", "did you mean 'filters'", "accepted: filters"]),
        ("cnn-small", {"filters": "16"}, ["filters='16'", "not an integer", "[4, 512]"]),
        ("cnn-small", {"filters": True}, ["filters=True", "not an integer"]),
        ("cnn-small", {"dropout": 1.5}, ["dropout=1.5", "above the maximum 0.9", "[0, 0.9]"]),
        ("cnn-small", {"blocks": 0}, ["blocks=0", "below the minimum 1"]),
        ("vgg19", {"trainable_base": "yes"}, ["trainable_base='yes'", "not a boolean", "true or false"]),
        ("mobilenet", {"alpha": 0.3}, ["alpha=0.3", "not allowed", "0.25"]),
        ("cnn-attention", {"attention": "transformer"}, ["attention='transformer'", "'cbam', 'se'"]),
        ("resnet50", {"unfreeze_schedule": "5:3,3:9"}, ["unfreeze_schedule='5:3,3:9'", "does not come after"]),
        ("resnet50", {"unfreeze_schedule": "5"}, ["has no ':'", "EPOCH:COUNT"]),
        ("resnet50", {"unfreeze_schedule": "5:zero"}, ["neither an integer nor 'all'"]),
        ("resnet50", {"finetune_lr_factor": float("nan")}, ["not finite"]),
    ],
)
def test_bad_hyperparameters_name_key_value_and_what_is_accepted(model: str, hp: dict, expected: list[str]) -> None:
    with pytest.raises(ModelError) as err:
        validate_hyperparameters(model, hp)
    for fragment in expected:
        assert fragment in str(err.value)
    assert model in str(err.value)


def test_input_size_below_the_minimum_says_the_minimum() -> None:
    with pytest.raises(ModelError, match=r"input_size=31 is below the minimum 32"):
        validate_input_size("resnet50", 31)
    with pytest.raises(ModelError, match="not an integer"):
        validate_input_size("resnet50", 64.0)
    assert validate_input_size("resnet50", 32) == 32


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"weights": "imagenet"}, "has no ImageNet weights"),
        ({"weights": "/nonexistent/w.weights.h5"}, "neither 'none', 'imagenet' nor an existing weights file"),
        ({"num_classes": 1}, "num_classes=1 must be an integer >= 2"),
        ({"image_size": 4}, "image_size=4 must be an integer in [8, 1024]"),
        ({"input_size": 16}, "below the minimum 32"),
        ({"colour": "red"}, "unknown hyperparameter colour='red'"),
    ],
)
def test_get_model_rejects_bad_arguments_before_building(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ModelError) as err:
        get_model("cnn-small", **kwargs)
    assert fragment in str(err.value)
