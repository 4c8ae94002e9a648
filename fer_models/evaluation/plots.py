"""PNG figures: one run's confusion matrix, curves and ROC, and the cross-run comparison charts.

Matplotlib's Agg backend only (no display, safe in workers). Every function writes one PNG and
returns its path; figure sizes grow with the number of models so labels never overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from fer_models.evaluation.metrics import normalised_confusion  # noqa: E402

DPI = 100


@dataclass(frozen=True)
class RunSummary:
    """What the comparison charts need from one finished run."""

    model: str
    run_id: str
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None


def _save(fig: plt.Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _draw_confusion(ax: plt.Axes, cm: Sequence[Sequence[int]], class_names: Sequence[str], *, fontsize: int = 9) -> None:
    norm = normalised_confusion(cm)
    ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, labels=class_names, rotation=45, ha="right", fontsize=fontsize)
    ax.set_yticks(ticks, labels=class_names, fontsize=fontsize)
    for i in range(norm.shape[0]):
        for j in range(norm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=fontsize - 1,
                    color="white" if norm[i, j] > 0.5 else "black")


def plot_confusion_matrix(cm: Sequence[Sequence[int]], class_names: Sequence[str], path: Path, *, title: str = "") -> Path:
    """Row-normalised confusion matrix (each true class sums to 1) with the values written in."""
    fig, ax = plt.subplots(figsize=(7, 6))
    _draw_confusion(ax, cm, class_names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title or "Normalised confusion matrix")
    return _save(fig, path)


def plot_training_curves(history: dict[str, list[float]], path: Path, *, title: str = "") -> Path:
    """Loss and accuracy per epoch, train and validation side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for name, style in ((key, "-o"), (f"val_{key}", "--s")):
            values = history.get(name) or []
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=name, markersize=3)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or "Training curves")
    return _save(fig, path)


def plot_roc_curves(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str], path: Path, *, title: str = "") -> Path:
    """One-vs-rest ROC curve per class that has both positives and negatives in the test split."""
    fig, ax = plt.subplots(figsize=(7, 6))
    y_true = np.asarray(y_true)
    for k, name in enumerate(class_names):
        positives = y_true == k
        if positives.any() and not positives.all():
            fpr, tpr, _ = roc_curve(positives, probs[:, k])
            ax.plot(fpr, tpr, label=name, linewidth=1.5)
    ax.plot([0, 1], [0, 1], "k:", linewidth=1)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(title or "ROC curves (one vs rest)")
    return _save(fig, path)


# ---- comparison charts across runs -------------------------------------------------------------


def plot_metric_by_model(runs: Sequence[RunSummary], path: Path, *, title: str = "") -> Path:
    """Grouped bars: test accuracy and macro-F1 per model, sorted by accuracy."""
    runs = sorted(runs, key=lambda r: r.metrics.get("accuracy", 0.0), reverse=True)
    labels = [r.model for r in runs]
    x = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(runs) + 2), 5))
    width = 0.38
    for offset, key, label in ((-width / 2, "accuracy", "accuracy"), (width / 2, "f1_macro", "macro-F1")):
        values = [r.metrics.get(key, float("nan")) for r in runs]
        bars = ax.bar(x + offset, values, width, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xticks(x, labels=labels, rotation=30 if len(runs) > 4 else 0, ha="right" if len(runs) > 4 else "center")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("Test score")
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or "Accuracy and macro-F1 by model")
    return _save(fig, path)


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of points no other point beats (lower-or-equal x AND higher-or-equal y, one strictly)."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i]))
    front, best = [], -math.inf
    for i in order:
        if ys[i] > best:
            front.append(i)
            best = ys[i]
    return front


def plot_tradeoff(runs: Sequence[RunSummary], x_key: str, path: Path, *, x_label: str, log_x: bool = False, title: str = "") -> Path:
    """Accuracy against a cost (train time, params): every run a dot, the Pareto front joined."""
    pts = [(r, r.metrics.get(x_key), r.metrics.get("accuracy")) for r in runs]
    pts = [(r, x, y) for r, x, y in pts if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    if pts:
        xs = [p[1] for p in pts]
        ys = [p[2] for p in pts]
        front = set(pareto_front(xs, ys))
        dominated = [i for i in range(len(pts)) if i not in front]
        if dominated:
            ax.scatter([xs[i] for i in dominated], [ys[i] for i in dominated], color="tab:gray",
                       label="dominated", zorder=2)
        fx = sorted(front, key=lambda i: xs[i])
        ax.plot([xs[i] for i in fx], [ys[i] for i in fx], "-o", color="tab:red", label="Pareto front", zorder=3)
        for i, (r, x, y) in enumerate(pts):
            ax.annotate(r.model, (x, y), textcoords="offset points", xytext=(5, 6 if i % 2 == 0 else -12), fontsize=8)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("Test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or f"Accuracy vs {x_label}")
    return _save(fig, path)


def plot_per_class_f1_heatmap(runs: Sequence[RunSummary], class_names: Sequence[str], path: Path, *, title: str = "") -> Path:
    """Models (rows) x classes (columns), cell = test F1 of that class."""
    grid = np.array([[r.per_class.get(c, {}).get("f1", np.nan) for c in class_names] for r in runs], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 * len(class_names) + 3, max(3.5, 0.5 * len(runs) + 2)))
    ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(class_names)), labels=class_names, rotation=30, ha="right")
    ax.set_yticks(np.arange(len(runs)), labels=[r.model for r in runs])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if grid[i, j] > 0.6 else "white")
    ax.set_title(title or "Per-class F1 by model")
    return _save(fig, path)


def plot_confusion_grid(runs: Sequence[RunSummary], class_names: Sequence[str], path: Path, *, title: str = "") -> Path:
    """Small normalised confusion matrices, one per model, in a grid of up to 3 columns."""
    runs = [r for r in runs if r.confusion_matrix is not None]
    n = max(len(runs), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, 5.2 * cols), max(6.0, 4.8 * rows)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, run in zip(axes.flat, runs):
        ax.axis("on")
        _draw_confusion(ax, run.confusion_matrix, class_names, fontsize=9 if n == 1 else 7)
        ax.set_title(f"{run.model} (acc {run.metrics.get('accuracy', float('nan')):.2f})", fontsize=10)
    fig.suptitle(title or "Normalised confusion matrices")
    fig.tight_layout()
    return _save(fig, path)


def comparison_charts(runs: Sequence[RunSummary], class_names: Sequence[str], out_dir: Path, *, dataset: str = "") -> list[Path]:
    """Every chart `ferbench visualize` produces, into out_dir."""
    out_dir = Path(out_dir)
    suffix = f" ({dataset})" if dataset else ""
    return [
        plot_metric_by_model(runs, out_dir / "accuracy_f1_by_model.png", title=f"Accuracy and macro-F1 by model{suffix}"),
        plot_tradeoff(runs, "train_seconds", out_dir / "accuracy_vs_train_time.png", x_label="Training time (s)",
                      log_x=True, title=f"Accuracy vs training time{suffix}"),
        plot_tradeoff(runs, "params", out_dir / "accuracy_vs_params.png", x_label="Parameters", log_x=True,
                      title=f"Accuracy vs parameters{suffix}"),
        plot_per_class_f1_heatmap(runs, class_names, out_dir / "per_class_f1.png", title=f"Per-class F1 by model{suffix}"),
        plot_confusion_grid(runs, class_names, out_dir / "confusion_matrices.png", title=f"Normalised confusion matrices{suffix}"),
    ]
