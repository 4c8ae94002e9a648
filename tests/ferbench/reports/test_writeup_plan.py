"""The quick rule and the bodies `ferbench reproduce writeup` submits."""

from __future__ import annotations

import pytest

from fer_models.errors import SpecError
from fer_models.training.spec import parse_spec
from ferbench.reports.writeup_plan import (choose_recipes, plan_runs, quick_budget_minutes, quick_epochs,
                                           writeup_recipes)


def test_the_writeup_recipes_are_the_thirteen_models_in_order() -> None:
    models = [r.model for r in writeup_recipes()]
    assert len(models) == 13 and models[0] == "vgg19" and "cnn-large" in models
    assert [r.model for r in choose_recipes(["cnn-lstm", "vgg19"])] == ["vgg19", "cnn-lstm"]


def test_an_unknown_model_names_the_writeup_models() -> None:
    with pytest.raises(SpecError, match="not a write-up model: mini-xception.*vgg19, vgg19-frozen"):
        choose_recipes(["mini-xception"])


def test_quick_scaling_divides_epochs_shrinks_imagenet_inputs_and_budgets_the_hour() -> None:
    assert (quick_epochs(50), quick_epochs(30), quick_epochs(4)) == (5, 3, 1)
    assert quick_budget_minutes(39) == pytest.approx(45 / 39, abs=0.01) and quick_budget_minutes(100) == 1.0
    runs = {p.model: p.body for p in plan_runs(writeup_recipes(), dataset="fer2013", seeds=3, quick=True)}
    assert runs["vgg19"] == {"recipe": "writeup-vgg19", "dataset": "fer2013", "repeats": 3, "epochs": 5,
                             "input_size": 64, "time_budget_minutes": 1.15}
    assert runs["resnet50-lstm"]["epochs"] == 3 and runs["resnet50-lstm"]["input_size"] == 64
    assert "input_size" not in runs["cnn-small"] and runs["cnn-small"]["epochs"] == 5
    for body in runs.values():  # every body is a spec the API accepts
        parse_spec({k: v for k, v in body.items() if k != "repeats"})


def test_a_full_run_sends_only_the_recipe_and_weights_none_only_where_it_changes_something() -> None:
    (vgg, cnn) = plan_runs(choose_recipes(["vgg19", "cnn-small"]), dataset="d", seeds=1, quick=False, weights="none")
    assert vgg.body == {"recipe": "writeup-vgg19", "dataset": "d", "weights": "none"}
    assert cnn.body == {"recipe": "writeup-cnn-small", "dataset": "d"}
    (tiny,) = plan_runs(choose_recipes(["cnn-small"]), dataset="d", seeds=1, quick=True, epochs=1)
    assert tiny.body["epochs"] == 1


@pytest.mark.parametrize("seeds", [0, 11])
def test_seeds_out_of_range_name_the_range(seeds: int) -> None:
    with pytest.raises(SpecError, match="from 1 to 10"):
        plan_runs(writeup_recipes(), dataset="d", seeds=seeds, quick=False)
