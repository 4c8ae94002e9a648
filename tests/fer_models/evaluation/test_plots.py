from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_models.evaluation.metrics import classification_report
from fer_models.evaluation.plots import (
    RunSummary,
    comparison_charts,
    pareto_front,
    plot_confusion_matrix,
    plot_roc_curves,
    plot_training_curves,
)

NAMES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]


def _runs(n: int) -> list[RunSummary]:
    rng = np.random.default_rng(0)
    runs = []
    for i in range(n):
        y = rng.integers(0, 7, 300)
        probs = rng.random((300, 7)) + np.eye(7)[y] * (i + 1) / n
        rep = classification_report(y, probs / probs.sum(1, keepdims=True), NAMES)
        metrics = {**rep.metrics, "train_seconds": 10.0 * (i + 1) ** 2, "params": 1e5 * 3**i}
        runs.append(RunSummary(f"model-{i}-long-name", f"run{i}", metrics, rep.per_class, rep.confusion_matrix))
    return runs


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_single_run_figures_are_pngs_of_a_readable_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 200)
    probs = rng.random((200, 7))
    rep = classification_report(y, probs, NAMES)
    cm = plot_confusion_matrix(rep.confusion_matrix, NAMES, tmp_path / "cm.png")
    curves = plot_training_curves({"loss": [2, 1.5, 1.2], "val_loss": [2.1, 1.7, 1.6],
                                   "accuracy": [0.2, 0.4, 0.5], "val_accuracy": [0.2, 0.35, 0.4]}, tmp_path / "c.png")
    roc = plot_roc_curves(y, probs, NAMES, tmp_path / "roc.png")
    for path in (cm, curves, roc):
        width, height = _png_size(path)
        assert width >= 500 and height >= 350


@pytest.mark.parametrize("n", [1, 5])
def test_comparison_charts_for_one_or_many_models(tmp_path: Path, n: int) -> None:
    paths = comparison_charts(_runs(n), NAMES, tmp_path, dataset="synthetic")
    assert [p.name for p in paths] == ["accuracy_f1_by_model.png", "accuracy_vs_train_time.png",
                                       "accuracy_vs_params.png", "per_class_f1.png", "confusion_matrices.png"]
    for path in paths:
        width, height = _png_size(path)
        assert width >= 400 and height >= 250


def test_pareto_front_keeps_only_undominated_points() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 2.5]
    ys = [0.5, 0.7, 0.6, 0.9, 0.8]
    assert sorted(pareto_front(xs, ys)) == [0, 1, 3, 4]
