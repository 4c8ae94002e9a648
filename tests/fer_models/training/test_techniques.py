"""The training techniques the recipes need: each changes what it should, and only that."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_models.training.mixing import mix_batch
from fer_models.training.schedule import ControllerState, learning_rate_for_epoch, update_plateau
from fer_models.training.spec import parse_spec


def test_one_cycle_rises_to_the_rate_over_the_first_30_percent_then_anneals() -> None:
    epochs, base = 10, 0.1
    rates = [learning_rate_for_epoch(e / 10, base_lr=base, schedule="one_cycle", epochs=epochs, warmup_epochs=0,
                                     state=ControllerState()) for e in range(epochs * 10)]
    peak = int(np.argmax(rates))
    assert peak == 30 and rates[peak] == pytest.approx(base)
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))  # rises
    assert all(a > b for a, b in zip(rates[peak:-1], rates[peak + 1:]))  # then falls
    assert rates[0] == pytest.approx(base / 25) and rates[-1] < base / 1000


@pytest.mark.parametrize(("monitor", "stalled"), [("val_loss", [1.0, 1.1, 1.2, 1.05]),
                                                   ("val_accuracy", [0.5, 0.4, 0.45, 0.5])])
def test_plateau_multiplies_the_rate_by_its_factor_after_patience_epochs_without_improvement(
        monitor: str, stalled: list[float]) -> None:
    state = ControllerState()
    scales = []
    for value in stalled:
        update_plateau(state, value, monitor=monitor, factor=0.75, patience=3)
        scales.append(state.plateau_scale)
    assert scales == [1.0, 1.0, 1.0, 0.75]  # not before `patience` stalled epochs
    rate = learning_rate_for_epoch(4, base_lr=0.01, schedule="plateau", epochs=10, warmup_epochs=0, state=state)
    assert rate == pytest.approx(0.0075)


def _batch(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, size=(n, 12, 12, 1)).astype(np.float32)
    labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, size=n)]
    return images, labels


def test_mixup_mixes_labels_by_the_same_lambda_as_the_images() -> None:
    images, labels = _batch()
    mixed = mix_batch(images, labels, np.random.default_rng(0), mixup=0.4, cutmix=0.0)
    lam, partner = mixed.lam, mixed.partner
    assert mixed.method == "mixup" and 0.0 < lam < 1.0
    np.testing.assert_allclose(mixed.images, lam * images + (1 - lam) * images[partner], rtol=1e-5)
    np.testing.assert_allclose(mixed.labels, lam * labels + (1 - lam) * labels[partner], rtol=1e-6)
    np.testing.assert_allclose(mixed.labels.sum(axis=1), 1.0, rtol=1e-6)


def test_cutmix_mixes_labels_by_the_pasted_area() -> None:
    images, labels = _batch()
    mixed = mix_batch(images, labels, np.random.default_rng(3), mixup=0.0, cutmix=1.0)
    pasted = np.any(mixed.images != images, axis=(0, 3))  # the box, where partners' pixels now are
    from_partner = np.isclose(mixed.images, images[mixed.partner])
    assert mixed.method == "cutmix" and from_partner[:, pasted].all()
    assert 1.0 - pasted.mean() == pytest.approx(mixed.lam, abs=1e-6)
    np.testing.assert_allclose(mixed.labels, mixed.lam * labels + (1 - mixed.lam) * labels[mixed.partner], rtol=1e-6)


def test_with_both_on_each_batch_uses_one_of_the_two() -> None:
    images, labels = _batch()
    rng = np.random.default_rng(0)
    methods = {mix_batch(images, labels, rng, mixup=0.4, cutmix=1.0).method for _ in range(20)}
    assert methods == {"mixup", "cutmix"}


def test_nesterov_reaches_the_optimizer_and_changes_the_update() -> None:
    import keras

    from fer_models.training.model_setup import make_optimizer

    def two_steps(nesterov: bool) -> float:
        spec = parse_spec({"model": "cnn-small", "optimizer": "sgd", "momentum": 0.9, "nesterov": nesterov})
        optimizer = make_optimizer(spec, 0.1)
        assert optimizer.nesterov is nesterov
        weight = keras.Variable(1.0)
        for _ in range(2):
            optimizer.apply_gradients([(keras.ops.convert_to_tensor(1.0), weight)])
        return float(weight.numpy())

    # Plain momentum: 1 - 0.1 - 0.19 = 0.71; Nesterov looks ahead: 1 - 0.19 - 0.271 = 0.539.
    assert two_steps(False) == pytest.approx(0.71) and two_steps(True) == pytest.approx(0.539)


def _tiny_model_and_data() -> tuple[object, np.ndarray, np.ndarray]:
    from fer_models.models.registry import get_model

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(37, 48, 48, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, size=37)]
    return get_model("cnn-small", filters=4, blocks=2, dense_units=8), x, y


def test_the_weight_average_is_kept_apart_during_training_and_is_what_gets_evaluated() -> None:
    from fer_models.training.model_setup import apply_weight_average, compile_model

    model, x, y = _tiny_model_and_data()
    compile_model(model, parse_spec({"model": "cnn-small", "ema_decay": 0.9}), 0.01)
    for _ in range(2):  # two fit calls, as between the phases of a fine-tuning schedule
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    raw = [np.array(v) for v in model.trainable_weights]
    average = [np.array(v) for v in model.optimizer._model_variables_moving_average]
    assert any(not np.allclose(r, a) for r, a in zip(raw, average))  # fit left the raw weights in place
    apply_weight_average(model)
    for weight, expected in zip(model.trainable_weights, average):
        np.testing.assert_allclose(np.array(weight), expected)


def test_mixed_bfloat16_trains_in_bfloat16_and_still_answers_float32_probabilities() -> None:
    from fer_models.training.model_setup import build_models, policy_name, precision_policy

    spec = parse_spec({"model": "cnn-small", "hyperparameters": {"filters": 4}, "precision": "mixed_bfloat16"})
    with precision_policy(policy_name(spec.precision, on_accelerator=False)):
        train_model, model = build_models(spec, 7, 48)
    conv = next(layer for layer in model.layers if layer.name == "block1_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    _, x, _ = _tiny_model_and_data()
    assert np.asarray(model.predict_on_batch(x)).dtype == np.float32
    assert policy_name("auto", on_accelerator=False) == "float32" and policy_name("auto", True) == "mixed_float16"


def test_random_resized_crop_of_crop_size_stretches_a_window_to_the_input() -> None:
    from fer_models.data.augmentation import build_augmentation

    ramp = np.tile(np.arange(48, dtype=np.float32), (4, 48, 1))[..., None]  # value = x coordinate
    layer = build_augmentation({"crop_size": 24}, seed=0)
    out = np.asarray(layer(ramp, training=True))
    slope = np.diff(out[:, 24, 8:40, 0], axis=1)
    np.testing.assert_allclose(slope, 0.5, atol=0.02)  # 24 pixels spread over 48: half a pixel per pixel
    assert np.array_equal(np.asarray(layer(ramp, training=False)), ramp)
    scaled = np.asarray(build_augmentation({"crop_scale": (0.25, 0.25)}, seed=0)(ramp, training=True))
    # A quarter of the area at aspect 3/4..4/3: a window 0.43-0.58 of the width, so a slope of 0.43-0.58.
    assert 0.4 < np.median(np.diff(scaled[:, 24, 12:36, 0], axis=1)) < 0.6


def test_ten_crop_averages_ten_views_of_the_given_crop_size() -> None:
    from fer_models.data.tta import _resize, predict_with_tta

    images = np.random.default_rng(0).uniform(0, 255, size=(3, 48, 48, 1)).astype(np.float32)
    seen: list[np.ndarray] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(batch)
        return np.full((len(batch), 7), float(len(seen)), dtype=np.float32)

    probs = predict_with_tta(predict, images, "ten_crop", crop_size=40)
    assert len(seen) == 10 and all(view.shape == images.shape for view in seen)
    np.testing.assert_allclose(seen[0], _resize(images[:, :40, :40], (48, 48)))  # top-left crop of 40 pixels
    np.testing.assert_allclose(probs, np.mean(np.arange(1, 11)))  # the mean of the ten views' answers


def test_select_best_evaluates_the_best_epochs_weights(tmp_path: Path, data_dir: Path) -> None:
    from fer_models.data.catalog import load_dataset
    from fer_models.data.pipeline import to_model_input
    from fer_models.evaluation.evaluate import predict_probs
    from fer_models.tracking.keras_model import load_keras_model
    from fer_models.training.engine import run_experiment

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    spec = parse_spec({"model": "cnn-small", "dataset": "tiny", "epochs": 4, "batch_size": 33, "learning_rate": 0.05,
                       "hyperparameters": {"filters": 4}, "select_best": "val_loss"})
    result = run_experiment(spec, work_dir=tmp_path / "w", data_dir=data_dir, cache_dir=tmp_path / "c",
                            tracking_uri=uri)
    from mlflow.tracking import MlflowClient

    # Downloaded through a client of this store: setting MLflow's global URI would leak into later tests.
    folder = MlflowClient(tracking_uri=uri).download_artifacts(result.mlflow_run_id, "model", str(tmp_path))
    model = load_keras_model(folder)
    dataset = load_dataset("tiny", data_dir=data_dir, cache_dir=tmp_path / "c")
    images, labels = dataset.subset("val")
    import keras

    loss = float(keras.losses.CategoricalCrossentropy()(np.eye(7)[labels], predict_probs(model, to_model_input(images))))
    history = result.history["val_loss"]
    assert loss == pytest.approx(min(history), rel=1e-3)


def test_mixing_and_the_weight_average_train_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    from fer_models.training.engine import run_experiment

    spec = parse_spec({"model": "cnn-small", "dataset": "tiny", "epochs": 2, "batch_size": 33,
                       "hyperparameters": {"filters": 4}, "mixup": 0.4, "cutmix": 1.0, "ema_decay": 0.9,
                       "class_weighting": "balanced", "lr_schedule": "one_cycle", "augmentation": "vgg-fer",
                       "tta": "ten_crop"})
    result = run_experiment(spec, work_dir=tmp_path / "w", data_dir=data_dir, cache_dir=tmp_path / "c")
    assert result.status == "succeeded" and result.epochs_completed == 2
    assert 0.0 <= result.metrics["accuracy"] <= 1.0 and "accuracy_no_tta" in result.metrics


_JAX_RUN = """
import json, sys, tempfile
from pathlib import Path
import keras
from ferbench.testing.face_folders import write_face_folders
from fer_models.training.engine import run_experiment
from fer_models.training.spec import parse_spec
root = Path(tempfile.mkdtemp())
write_face_folders(root / "data", "tiny", n=105)
common = {"model": "cnn-small", "dataset": "tiny", "epochs": 2, "batch_size": 17, "hyperparameters": {"filters": 4}}
specs = [{**common, "mixup": 0.4, "cutmix": 1.0, "ema_decay": 0.9, "lr_schedule": "one_cycle",
          "augmentation": "vgg-fer", "tta": "ten_crop", "precision": "mixed_bfloat16"},
         {**common, "optimizer": "sgd", "nesterov": True, "lr_schedule": "plateau", "plateau_monitor": "val_accuracy",
          "plateau_factor": 0.75, "plateau_patience": 1, "select_best": "val_accuracy"}]
out = {"backend": keras.backend.backend(), "runs": []}
for i, spec in enumerate(specs):
    r = run_experiment(parse_spec(spec), work_dir=root / f"w{i}", data_dir=root / "data", cache_dir=root / "c")
    out["runs"].append([r.status, r.epochs_completed, r.metrics["accuracy"], r.history["lr"]])
print(json.dumps(out))
"""


def test_the_techniques_train_under_jax_in_a_subprocess() -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _JAX_RUN], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax"
    for status, epochs, accuracy, rates in out["runs"]:
        assert status == "succeeded" and epochs == 2 and 0.0 <= accuracy <= 1.0 and len(rates) == 2


def test_with_a_time_budget_one_cycle_follows_the_time_when_it_is_further_along(tmp_path: Path) -> None:
    import time
    from types import SimpleNamespace

    from fer_models.training.callbacks import EngineCallback
    from fer_models.training.checkpoint import CheckpointState
    from fer_models.training.hooks import RunHooks

    def rate_at_first_step(budget: float | None, spent: float) -> float:
        callback = EngineCallback(epochs=10, batches_per_epoch=5, base_lr=0.1, schedule="one_cycle", warmup_epochs=0,
                                  monitor="val_loss", early_stopping_patience=None, work_dir=tmp_path,
                                  state=CheckpointState(train_seconds=spent), controller=ControllerState(),
                                  hooks=RunHooks(), log_epoch=None, budget_seconds=budget)
        callback.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=None)))
        callback._epoch_start = time.perf_counter()
        callback.on_train_batch_begin(0)
        return float(callback.model.optimizer.learning_rate)

    assert rate_at_first_step(None, 95.0) == pytest.approx(0.1 / 25)  # by steps: the very start
    assert rate_at_first_step(100.0, 30.0) == pytest.approx(0.1, rel=1e-3)  # 30% of the time: the peak
    assert rate_at_first_step(100.0, 95.0) < 0.1 / 50  # 95% of the time: nearly annealed
