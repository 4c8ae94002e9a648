"""The quick rule and the bodies `ferbench reproduce writeup` submits."""

from __future__ import annotations

import pytest

from fer_models.errors import SpecError
from fer_models.training.spec import parse_spec
from ferbench.reports.writeup_plan import (choose_recipes, plan_runs, quick_budget_minutes, quick_epochs,
                                           quick_schedule, writeup_recipes)


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
                             "input_size": 48, "time_budget_minutes": 1.15}
    assert runs["resnet50-lstm"]["epochs"] == 3 and runs["resnet50-lstm"]["input_size"] == 64  # its minimum
    assert "input_size" not in runs["cnn-small"] and runs["cnn-small"]["epochs"] == 5
    for body in runs.values():  # every body is a spec the API accepts
        parse_spec({k: v for k, v in body.items() if k != "repeats"})


def test_a_full_run_sends_only_the_recipe_and_weights_none_only_where_it_changes_something() -> None:
    (vgg, cnn) = plan_runs(choose_recipes(["vgg19", "cnn-small"]), dataset="d", seeds=1, quick=False, weights="none")
    assert vgg.body == {"recipe": "writeup-vgg19", "dataset": "d", "weights": "none"}
    assert cnn.body == {"recipe": "writeup-cnn-small", "dataset": "d"}
    (tiny,) = plan_runs(choose_recipes(["cnn-small"]), dataset="d", seeds=1, quick=True, epochs=1)
    assert tiny.body["epochs"] == 1


def test_quick_runs_scale_an_unfreeze_schedule_with_their_epochs_so_they_still_fine_tune() -> None:
    assert quick_schedule("5:3,10:9") == "1:3,2:9"  # 5 quick epochs: the head, then conv5, then conv4 too
    assert quick_schedule("0:3,1:9,30:all") == "0:3,1:9,3:all" and quick_schedule("") == ""
    (resnet,) = plan_runs(choose_recipes(["resnet50"]), dataset="d", seeds=1, quick=True)
    assert resnet.body["epochs"] == 5 and resnet.body["hyperparameters"] == {"unfreeze_schedule": "1:3,2:9"}
    spec = parse_spec(resnet.body)
    assert spec.hyperparameters["unfreeze_schedule"] == "1:3,2:9" and spec.hyperparameters["finetune_lr_factor"] == 0.1


def test_from_scratch_the_whole_base_trains_from_the_first_epoch_instead_of_a_frozen_random_base() -> None:
    for quick in (False, True):
        runs = {p.model: p.body for p in plan_runs(choose_recipes(["resnet50", "resnet50-lstm", "mobilenet"]),
                                                   dataset="d", seeds=1, quick=quick, weights="none")}
        for model in ("resnet50", "resnet50-lstm"):
            assert runs[model]["hyperparameters"] == {"unfreeze_schedule": "0:all", "finetune_lr_factor": 1.0}
            assert parse_spec(runs[model]).weights == "none"
        assert "hyperparameters" not in runs["mobilenet"]  # no schedule: its base trains from the start anyway


@pytest.mark.parametrize("seeds", [0, 11])
def test_seeds_out_of_range_name_the_range(seeds: int) -> None:
    with pytest.raises(SpecError, match="from 1 to 10"):
        plan_runs(writeup_recipes(), dataset="d", seeds=seeds, quick=False)
