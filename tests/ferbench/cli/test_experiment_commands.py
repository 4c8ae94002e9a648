"""`ferbench train / evaluate / visualize` end to end against a real `mlflow server` process.

One tiny cnn-small training (350 synthetic faces written as PNG folders, 2 epochs) is shared by the
module; each test then checks one promise about what it left in MLflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient
from PIL import Image

from fer_models.tracking.run_logger import final_metric_names
from ferbench.cli.main import cli, main
from ferbench.settings import get_settings
from ferbench.testing.face_folders import write_face_folders

DESIGN_METRICS = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
                  "roc_auc_macro", "top2_accuracy", "train_seconds", "epoch_seconds", "inference_ms",
                  "throughput", "params", "model_bytes")
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds")
SPEC_FIELDS = ("model", "dataset", "epochs", "batch_size", "learning_rate", "optimizer", "momentum", "nesterov",
               "weight_decay", "lr_schedule", "warmup_epochs", "label_smoothing", "class_weighting", "augmentation",
               "early_stopping", "input_size", "seed", "split_seed", "time_budget_minutes", "weights", "tta")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, mlflow_server: Any) -> dict[str, str]:  # noqa: F811
    home = tmp_path_factory.mktemp("cli-home")
    write_face_folders(home / "data", "tiny", n=350)
    return {"FERBENCH_HOME": str(home), "FERBENCH_DATA_DIR": str(home / "data"), "MLFLOW_TRACKING_URI": mlflow_server.url}


@pytest.fixture
def use_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _invoke(env: dict[str, str], *args: str) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    get_settings.cache_clear()
    return result


@pytest.fixture(scope="module")
def trained(env: dict[str, str]) -> dict[str, Any]:
    result = _invoke(env, "train", "--model", "cnn-small", "--dataset", "tiny", "--epochs", "2", "--batch-size", "32",
                     "--augmentation", "none", "--seed", "1", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith("{"), result.stdout[:500]
    return json.loads(result.stdout)


def test_train_logs_params_tags_epoch_and_test_metrics(trained: dict[str, Any], env: dict[str, str]) -> None:
    assert trained["status"] == "succeeded" and trained["epochs_completed"] == 2
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    run = client.get_run(trained["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "ferbench-tiny"
    params = run.data.params
    for field in SPEC_FIELDS:
        assert field in params or any(p.startswith(f"{field}.") for p in params), field
    assert any(p.startswith("hyperparameters.") for p in params)
    assert params["version.keras"] and params["version.mlflow"] and params["split_fingerprint"]
    tags = run.data.tags
    assert (tags["model"], tags["family"], tags["dataset"]) == ("cnn-small", "cnn", "tiny")
    assert tags["split_fingerprint"] == trained["split_fingerprint"]
    assert tags["keras_backend"] == "tensorflow" and tags["device"]
    for key in EPOCH_METRICS:
        assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [1, 2], key
    logged = final_metric_names(run.data.metrics)
    for key in DESIGN_METRICS:
        assert logged[key] == pytest.approx(trained["metrics"][key]), key
    assert "test_train_seconds" not in run.data.metrics and "train_seconds" in run.data.metrics
    assert "test_inference_ms_p95" in run.data.metrics


def test_every_artifact_is_logged(trained: dict[str, Any], env: dict[str, str]) -> None:
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    run_id = trained["mlflow_run_id"]
    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"model", "plots", "per_class_report.json", "input_example.npy"} <= top
    assert {a.path for a in client.list_artifacts(run_id, "plots")} == {
        "plots/confusion_matrix.png", "plots/training_curves.png", "plots/roc_curves.png"}
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(run_id, "model")}


def test_logged_model_reloads_and_predicts_identically(trained: dict[str, Any], use_env: dict[str, str]) -> None:
    import mlflow

    from fer_models.data.catalog import load_dataset
    from fer_models.data.pipeline import to_model_input

    uri = f"runs:/{trained['mlflow_run_id']}/model"
    settings = get_settings()
    dataset = load_dataset("tiny", data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    x_test, y_test = dataset.subset("test")
    x = to_model_input(x_test)
    pyfunc = mlflow.pyfunc.load_model(uri)
    keras_model = mlflow.keras.load_model(uri)
    via_pyfunc = np.asarray(pyfunc.predict(x))
    np.testing.assert_allclose(via_pyfunc, keras_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert float((via_pyfunc.argmax(1) == y_test).mean()) == pytest.approx(trained["metrics"]["accuracy"])
    example = np.load(mlflow.artifacts.download_artifacts(f"runs:/{trained['mlflow_run_id']}/input_example.npy"))
    assert example.shape[1:] == (48, 48, 1)


def test_evaluate_reproduces_the_logged_test_accuracy(trained: dict[str, Any], env: dict[str, str]) -> None:
    # --dataset: the session's tracking server also holds other tests' cnn-small runs, on data not here.
    result = _invoke(env, "evaluate", "--model", "cnn-small", "--dataset", "tiny", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run_id"] == trained["mlflow_run_id"]
    assert out["metrics"]["accuracy"] == pytest.approx(out["logged_test_accuracy"], abs=1e-9)
    assert out["metrics"]["f1_macro"] == pytest.approx(trained["metrics"]["f1_macro"], abs=1e-9)
    table = _invoke(env, "evaluate", "--model", "cnn-small", "--run-id", trained["mlflow_run_id"])
    assert table.exit_code == 0
    assert "balanced_accuracy" in table.stdout and "Neutral" in table.stdout


def test_evaluate_in_a_fresh_process_loads_the_custom_layers(trained: dict[str, Any], env: dict[str, str]) -> None:
    """As after a service training: this process never imported the builder that registered InputAdapter."""
    done = subprocess.run([sys.executable, "-m", "ferbench.cli.main", "evaluate", "--model", "cnn-small",
                           "--dataset", "tiny", "--json"],
                          env={**os.environ, **env}, cwd=Path(__file__).resolve().parents[3],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["metrics"]["accuracy"] == pytest.approx(out["logged_test_accuracy"], abs=1e-9)


def test_visualize_writes_non_empty_pngs_and_logs_them(trained: dict[str, Any], env: dict[str, str],
                                                       tmp_path: Path) -> None:
    result = _invoke(env, "visualize", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    charts = json.loads(result.stdout)["charts"]["tiny"]
    assert len(charts) == 5
    for path in charts:
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size[0] >= 500 and img.size[1] >= 300
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("ferbench-tiny")
    (chart_run,) = client.search_runs([exp.experiment_id], "tags.`ferbench.kind` = 'comparison_charts'")
    assert len(client.list_artifacts(chart_run.info.run_id, "charts")) == 5


def test_train_shows_progress_and_a_metrics_table(env: dict[str, str]) -> None:
    result = _invoke(env, "train", "--model", "cnn-small", "--dataset", "tiny", "--epochs", "1", "--batch-size", "64")
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stdout and "loss" in result.stdout
    assert "f1_macro" in result.stdout and "Per class" in result.stdout


def test_train_has_an_option_for_every_spec_field_under_its_usual_name() -> None:
    from fer_models.training.spec import EarlyStoppingSpec, ExperimentSpec

    options = {name for param in cli.commands["train"].params for name in (*param.opts, *param.secondary_opts)}
    for field in ExperimentSpec.model_fields:
        if field not in ("early_stopping", "hyperparameters", "learning_rate"):
            assert "--" + field.replace("_", "-") in options, field
    for field in EarlyStoppingSpec.model_fields:
        assert {f"--early-stopping-{field.replace('_', '-')}", f"--{field.replace('_', '-')}"} & options, field
    assert {"--learning-rate", "--lr", "--hp", "--restore-best-weights", "--no-restore-best-weights", "--work-dir",
            "--json"} <= options
    shown = CliRunner().invoke(cli, ["train", "--help"]).output
    assert "--hp KEY=VALUE" in shown and "Epochs (1-1000, default 10)." in shown


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code), capsys.readouterr().err


@pytest.mark.parametrize(("args", "expected"), [
    (("--epochs", "0"), "epochs=0: must be an integer from 1 to 1000, got 0"),
    (("--learning-rate", "-1"), "learning_rate=-1.0: must be a number in (0, 10000]"),
    (("--hp", "no_such=1"), "unknown hyperparameter no_such=1"),
    (("--hp", "dropout=2"), "dropout=2"),
    (("--recipe", "writeup-vgg"), "unknown recipe 'writeup-vgg'. Did you mean 'writeup-vgg19'?"),
    (("--recipe", "writeup-cnn-large", "--hp", "alpha=0.5"), "unknown hyperparameter alpha=0.5; accepted: filters"),
])
def test_spec_errors_exit_1_with_field_value_and_range_before_training(
        use_env: dict[str, str], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str) -> None:
    runs = Path(use_env["FERBENCH_HOME"]) / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    code, err = _main(capsys, "train", "--model", "cnn-small", "--dataset", "tiny", *args)
    assert code == 1
    assert expected in err and len(err.strip().splitlines()) == 1
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before  # no work folder: nothing started


def test_missing_dataset_says_where_it_looked(use_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(capsys, "train", "--model", "cnn-small", "--dataset", "nosuch", "--epochs", "1")
    assert code == 1
    assert "nosuch" in err and use_env["FERBENCH_DATA_DIR"] in err


def test_evaluate_without_runs_explains_how_to_get_one(use_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(capsys, "evaluate", "--model", "vgg19", "--dataset", "tiny")
    assert code == 1
    assert "no finished run of model 'vgg19'" in err and "ferbench train --model vgg19" in err


def test_a_command_on_a_new_default_store_prints_only_its_own_line(tmp_path: Path) -> None:
    """Creating the store logs MLflow INFO lines; the user sees only the command's error."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(FERBENCH_HOME=str(tmp_path), FERBENCH_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-m", "ferbench.cli.main", "evaluate", "--model", "cnn-small"],
                          env=env, cwd=Path(__file__).resolve().parents[3], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "no finished run" in done.stderr, done.stderr
    assert (tmp_path / "mlflow" / "mlflow.db").is_file()
