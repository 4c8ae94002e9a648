"""Recipes resolve and validate without TensorFlow; a spec's own fields override its recipe's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fer_models.errors import SpecError
from fer_models.models.registry import get_model_info
from fer_models.training.recipes import apply_recipe, get_recipe, list_recipes, recipe_names
from fer_models.training.spec import ExperimentSpec, parse_spec

WRITEUP_MODELS = ("vgg19", "vgg19-frozen", "mobilenet", "mobilenetv2", "resnet50", "cnn-lstm", "resnet50-lstm",
                  "cnn-attention", "cnn-lstm-attention", "resnet50-lstm-attention", "cnn-small", "cnn-medium",
                  "cnn-large")


def test_every_recipe_resolves_and_validates_without_tensorflow() -> None:
    code = ("import json, sys\n"
            "from fer_models.training.recipes import list_recipes\n"
            "docs = [r.to_dict() for r in list_recipes()]\n"
            "print(json.dumps({'names': [d['name'] for d in docs], 'keras': 'keras' in sys.modules,"
            " 'tf': 'tensorflow' in sys.modules}))\n")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out == {"names": recipe_names(), "keras": False, "tf": False}


def test_the_required_recipes_exist_with_their_sources_stated_settings() -> None:
    names = set(recipe_names())
    assert {f"writeup-{m}" for m in WRITEUP_MODELS} | {"paper-vgg-fer", "paper-mini-xception", "cpu-30min"} <= names
    vgg19 = get_recipe("writeup-vgg19").to_dict()["spec"]
    assert (vgg19["model"], vgg19["epochs"], vgg19["batch_size"], vgg19["weights"]) == ("vgg19", 50, 64, "imagenet")
    hybrid = get_recipe("writeup-resnet50-lstm").to_dict()["spec"]
    assert (hybrid["epochs"], hybrid["batch_size"]) == (30, 32)
    resnet = get_recipe("writeup-resnet50").to_dict()["spec"]
    assert resnet["hyperparameters"]["unfreeze_schedule"] == "5:3,10:9"  # freeze, then unfreeze
    paper = get_recipe("paper-vgg-fer").to_dict()["spec"]
    assert {k: paper[k] for k in ("optimizer", "learning_rate", "momentum", "nesterov", "weight_decay", "epochs",
                                  "batch_size", "plateau_monitor", "plateau_factor", "plateau_patience", "tta")} == {
        "optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4,
        "epochs": 300, "batch_size": 64, "plateau_monitor": "val_accuracy", "plateau_factor": 0.75,
        "plateau_patience": 5, "tta": "ten_crop"}
    assert paper["hyperparameters"]["dense_units"] == 4096
    assert get_recipe("paper-vgg-fer").reported.accuracy == pytest.approx(0.7328)
    assert get_recipe("writeup-vgg19").reported.accuracy == pytest.approx(0.66)


@pytest.mark.parametrize("recipe", list_recipes(), ids=lambda r: r.name)
def test_each_recipe_names_its_source_and_a_spec_its_model_accepts(recipe) -> None:
    spec = ExperimentSpec.model_validate({"recipe": recipe.name})
    assert spec.recipe == recipe.name and spec.model == recipe.model and recipe.source
    assert set(spec.hyperparameters) == set(get_model_info(recipe.model).defaults)
    # The stored (resolved) form validates back to the same spec: the worker parses what the API stored.
    assert parse_spec(spec.model_dump(mode="json")) == spec


def test_given_fields_override_the_recipe_and_mappings_merge_key_by_key() -> None:
    spec = parse_spec({"recipe": "writeup-vgg19", "epochs": 3, "hyperparameters": {"dropout": 0.1},
                       "early_stopping": {"patience": 2}})
    assert (spec.epochs, spec.batch_size, spec.learning_rate) == (3, 64, 1e-4)
    assert spec.hyperparameters == {**get_model_info("vgg19").defaults, "dropout": 0.1}  # defaults fill the rest
    assert spec.early_stopping.patience == 2 and spec.early_stopping.monitor == "val_accuracy"


def test_another_model_drops_the_recipes_hyperparameters() -> None:
    merged = apply_recipe({"recipe": "cpu-30min", "model": "cnn-small"})
    assert merged["model"] == "cnn-small" and "hyperparameters" not in merged
    spec = parse_spec(merged)
    assert spec.lr_schedule == "one_cycle"  # the rest of the recipe still applies
    assert spec.hyperparameters == get_model_info("cnn-small").defaults


def test_an_unknown_recipe_names_the_ones_that_exist() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"recipe": "writeup-vgg", "dataset": "synthetic"})
    message = str(caught.value)
    assert "recipe='writeup-vgg'" in message and "Did you mean 'writeup-vgg19'" in message
    assert all(name in message for name in recipe_names())


def test_an_override_the_recipes_model_does_not_accept_names_the_field_and_what_is_accepted() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"recipe": "writeup-vgg19", "hyperparameters": {"alpha": 0.5}})
    assert "alpha" in str(caught.value) and "accepted: trainable_base, dense_units, dropout" in str(caught.value)
    with pytest.raises(SpecError, match="weights.*accepted: none"):
        parse_spec({"recipe": "writeup-cnn-small", "weights": "imagenet"})


def test_mlflow_logs_the_recipe_name_and_its_resolved_values(tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    from fer_models.training.engine import run_experiment

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    spec = parse_spec({"recipe": "writeup-cnn-small", "dataset": "synthetic", "epochs": 1, "batch_size": 33,
                       "hyperparameters": {"filters": 4}, "early_stopping": None})
    result = run_experiment(spec, work_dir=tmp_path / "work", data_dir=tmp_path / "data",
                            cache_dir=tmp_path / "cache", tracking_uri=uri)
    run = MlflowClient(tracking_uri=uri).get_run(result.mlflow_run_id)
    assert run.data.tags["recipe"] == "writeup-cnn-small" and run.data.params["recipe"] == "writeup-cnn-small"
    # The recipe's own settings and the override, as trained.
    assert (run.data.params["augmentation"], run.data.params["epochs"], run.data.params["batch_size"]) == (
        "standard", "1", "33")
