"""`ferbench models`: the catalogue as a table and as the JSON GET /models serves."""

from __future__ import annotations

import json

import pytest

from fer_models.models.registry import list_model_infos, list_models
from ferbench.cli.main import main


def test_json_catalogue_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    main(["models", "--json"])
    assert json.loads(capsys.readouterr().out) == [info.to_dict() for info in list_model_infos()]


def test_table_lists_every_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    main(["models"])
    out = capsys.readouterr().out
    assert all(name in out for name in list_models())


def test_one_model_shows_its_hyperparameters(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    main(["models", "resnet50"])
    out = capsys.readouterr().out
    assert "unfreeze_schedule" in out and "finetune_lr_factor" in out


def test_unknown_model_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "mini-xceptoin"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Did you mean 'mini-xception'?" in err


def test_at_80_columns_descriptions_wrap_at_word_boundaries(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    main(["models"])
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    shown = set(out.split())
    for info in list_model_infos():
        assert set(info.description.split()) <= shown, info.name


def test_recipes_json_is_what_the_registry_gives(capsys: pytest.CaptureFixture[str]) -> None:
    from fer_models.training.recipes import list_recipes

    main(["recipes", "--json"])
    assert json.loads(capsys.readouterr().out) == [recipe.to_dict() for recipe in list_recipes()]


def test_one_recipe_shows_its_source_and_every_setting(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    main(["recipes", "paper-vgg-fer"])
    out = capsys.readouterr().out
    assert "Khaireddin and Chen 2021" in out and "73.3%" in out and "plateau_factor" in out and "0.75" in out


def test_an_unknown_recipe_is_one_line_naming_the_ones_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["recipes", "nope"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "unknown recipe 'nope'" in err and "cpu-30min" in err and "Traceback" not in err
