import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from fer_models.errors import SpecError
from fer_models.models.registry import get_model_info
from fer_models.training.spec import ExperimentSpec, capped_json_schema, parse_spec


def test_validation_resolves_the_spec_with_the_models_defaults() -> None:
    spec = parse_spec({"model": "cnn-small", "hyperparameters": {"dropout": 0.25}})
    assert (spec.dataset, spec.optimizer, spec.split_seed, spec.tta, spec.weights) == ("synthetic", "adam", 42, "none", "none")
    info = get_model_info("cnn-small")
    assert spec.input_size == info.default_input_size
    assert spec.hyperparameters == {**info.defaults, "dropout": 0.25}
    assert parse_spec(spec.model_dump(mode="json")) == spec  # the stored form parses back unchanged


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("epochs", 0, "epochs=0: must be an integer from 1 to 1000, got 0"),
        ("batch_size", 5000, "batch_size=5000: must be an integer from 1 to 4096"),
        ("learning_rate", 0.0, "learning_rate=0.0: must be a number in (0, 10000]"),
        ("momentum", 1.0, "momentum=1.0: must be a number in [0, 1)"),
        ("label_smoothing", 0.9, "label_smoothing=0.9: must be a number in [0, 0.5]"),
        ("seed", -1, "seed=-1: must be an integer from 0 to 2147483647"),
        ("time_budget_minutes", 0, "time_budget_minutes=0: must be a number in (0, 10080]"),
        ("optimizer", "rmsprop", "optimizer='rmsprop': Input should be 'adam', 'sgd' or 'adamw'"),
        ("lr_schedule", "step", "lr_schedule='step': Input should be 'constant', 'cosine', 'plateau' or 'one_cycle'"),
            ("plateau_factor", 1.0, "plateau_factor=1.0: must be a number in (0, 1)"),
            ("ema_decay", 0.5, "ema_decay=0.5: must be 0 (off) or a number in [0.9, 0.99999]"),
            ("mixup", -1, "mixup=-1: must be a number in [0, 10]"),
        ("tta", "five_crop", "tta='five_crop'"),
    ],
)
def test_range_errors_name_field_value_and_accepted_range(field: str, value: object, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"model": "cnn-small", field: value})
    assert expected in str(info.value)


def test_unknown_model_lists_the_accepted_ones() -> None:
    with pytest.raises(SpecError, match=r"model='vgg99':.*cnn-small"):
        parse_spec({"model": "vgg99"})


def test_unknown_field_and_unknown_hyperparameter_are_rejected() -> None:
    with pytest.raises(SpecError, match=r"epoch=3: unknown field; accepted: .*epochs"):
        parse_spec({"model": "cnn-small", "epoch": 3})
    with pytest.raises(SpecError, match=r"hyperparameters.*no_such_knob"):
        parse_spec({"model": "cnn-small", "hyperparameters": {"no_such_knob": 1}})


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"model": "cnn-small", "epochs": -1, "input_size": 16, "weights": "imagenet",
                    "hyperparameters": {"no_such_knob": 1, "dropout": 7}})
    message = str(info.value)
    for part in ("epochs=-1: must be an integer from 1 to 1000", "input_size=16", "no ImageNet weights",
                 "unknown hyperparameter no_such_knob=1", "hyperparameter dropout=7"):
        assert part in message, message


def test_a_dataset_outside_the_callers_list_is_named() -> None:
    with pytest.raises(ValidationError, match=r"unknown dataset 'nosuch'; available: synthetic, fer2013"):
        ExperimentSpec.model_validate({"model": "cnn-small", "dataset": "nosuch"},
                                      context={"datasets": ["synthetic", "fer2013"]})


def test_cross_field_checks() -> None:
    with pytest.raises(SpecError, match="warmup_epochs=3: must be smaller than epochs=3"):
        parse_spec({"model": "cnn-small", "epochs": 3, "warmup_epochs": 3})
    with pytest.raises(SpecError, match=r"early_stopping.patience=0: must be an integer from 1 to 1000"):
        parse_spec({"model": "cnn-small", "early_stopping": {"patience": 0}})
    with pytest.raises(SpecError, match=r"augmentation='wild': unknown preset"):
        parse_spec({"model": "cnn-small", "augmentation": "wild"})


def test_weight_files_only_when_the_caller_allows_them(tmp_path) -> None:
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"x")
    with pytest.raises(SpecError, match="accepted: none, imagenet"):
        parse_spec({"model": "cnn-small", "weights": str(weights)})
    assert parse_spec({"model": "cnn-small", "weights": str(weights)}, allow_weight_files=True).weights == str(weights)
    with pytest.raises(SpecError, match="does not exist"):
        parse_spec({"model": "cnn-small", "weights": str(tmp_path / "missing.h5")}, allow_weight_files=True)
    with pytest.raises(ValidationError):  # the API validates with the class directly: no paths
        ExperimentSpec.model_validate({"model": "cnn-small", "weights": str(weights)})


def test_a_callers_caps_are_the_ranges_its_messages_and_schema_state() -> None:
    caps = {"max_epochs": 20, "max_batch_size": 128}
    for field, value, top in (("epochs", 0, 20), ("epochs", 21, 20), ("batch_size", 129, 128)):
        with pytest.raises(ValidationError, match=f"must be an integer from 1 to {top}, got {value}"):
            ExperimentSpec.model_validate({"model": "cnn-small", field: value}, context=caps)
    props = capped_json_schema(caps)["properties"]
    assert (props["epochs"]["maximum"], props["batch_size"]["maximum"]) == (20, 128)
    assert capped_json_schema({})["properties"]["epochs"]["maximum"] == 1000


def test_json_schema_carries_the_ranges() -> None:
    props = ExperimentSpec.model_json_schema()["properties"]
    assert (props["epochs"]["minimum"], props["epochs"]["maximum"]) == (1, 1000)
    assert props["batch_size"]["maximum"] == 4096


def test_importing_and_validating_a_spec_does_not_import_keras_tensorflow_or_jax() -> None:
    code = (
        "import sys, json\n"
        "from fer_models.training.spec import parse_spec\n"
        "s = parse_spec({'model': 'cnn-small', 'augmentation': 'none'})\n"
        "print(json.dumps(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
