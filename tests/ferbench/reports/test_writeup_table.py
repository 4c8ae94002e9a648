"""The write-up table: mean ± std over seeds, '-' where the write-up gives no figure, the quick label."""

from __future__ import annotations

from typing import Any

import pytest

from fer_models.training.recipes import resolved_settings
from ferbench.reports.writeup_png import render_png
from ferbench.reports.writeup_table import Member, Stat, build_report, render_markdown


def member(recipe: str, seed: int, accuracy: float | None, *, status: str = "succeeded", stopped: str | None = None,
           **spec: Any) -> Member:
    full = {**resolved_settings(recipe), "seed": seed, "dataset": "fer2013", **spec}
    metrics = None if accuracy is None else {"accuracy": accuracy, "f1_macro": accuracy - 0.1,
                                             "train_seconds": 60.0 + seed, "params": 110759.0}
    return Member(f"e-{recipe}-{seed}", recipe, status, seed, full, "fer2013", metrics, "holdout",
                  "boom" if status == "failed" else None, stopped)


def test_ours_is_mean_and_sample_std_over_seeds_beside_the_writeup_figures() -> None:
    report = build_report([member("writeup-cnn-lstm", 0, 0.50), member("writeup-cnn-lstm", 1, 0.60),
                           member("writeup-cnn-small", 0, 0.40)], dataset="fer2013")
    lstm, small = report.rows  # the write-up's order
    assert lstm.accuracy == Stat(pytest.approx(0.55), pytest.approx(0.0707, abs=1e-4))
    assert small.accuracy.std is None and report.scale == "full" and not report.quick
    text = render_markdown(report)
    assert text.startswith("## Full recipes:")
    line = next(l for l in text.splitlines() if l.startswith("| cnn-lstm"))
    assert "| 26.0% | - | 55.0 ± 7.1% | 0.450 ± 0.071 |" in line and "| 2 | full |" in line
    small_line = next(l for l in text.splitlines() if l.startswith("| cnn-small"))
    assert "| cnn-small | - | - | 40.0% |" in small_line and "110.8k" in small_line


def test_a_quick_table_says_so_in_its_title_and_rows() -> None:
    report = build_report([member("writeup-vgg19", 0, 0.3, stopped="time_budget", epochs=5, input_size=64,
                                  time_budget_minutes=3.0, weights="none")], dataset="fer2013")
    assert report.scale == "quick" and report.quick
    text = render_markdown(report)
    assert text.startswith("## QUICK run, scaled down") and "epochs / 10" in text
    row = next(l for l in text.splitlines() if l.startswith("| vgg19"))
    assert "| quick |" in row and "64 px (recipe 224)" in row and "epochs 5 (recipe 50)" in row
    assert "from scratch (recipe: imagenet weights)" in row and "seed 0 stopped by its time budget" in row
    assert render_png(report).startswith(b"\x89PNG")


def test_a_changed_hyperparameter_is_named_with_the_recipe_value() -> None:
    recipe_hp = resolved_settings("writeup-resnet50")["hyperparameters"]
    hp = {**recipe_hp, "unfreeze_schedule": "0:all", "finetune_lr_factor": 1.0}
    (row,) = build_report([member("writeup-resnet50", 0, 0.3, weights="none", hyperparameters=hp)],
                          dataset="fer2013").rows
    assert "unfreeze_schedule 0:all (recipe 5:3,10:9)" in row.deviations
    assert "finetune_lr_factor 1.0 (recipe 0.1)" in row.deviations and not row.quick


def test_mixing_quick_and_full_runs_labels_the_title_and_every_row_and_failures_are_shown() -> None:
    report = build_report([member("writeup-cnn-small", 0, 0.4),
                           member("writeup-cnn-medium", 0, 0.4, epochs=5),
                           member("writeup-cnn-medium", 1, None, status="failed", epochs=5)], dataset="fer2013")
    assert report.scale == "mixed" and render_markdown(report).startswith("## MIXED quick and full runs")
    runs = {r.model: r for r in report.rows}
    assert runs["cnn-small"].quick is False and runs["cnn-medium"].quick is True
    assert runs["cnn-medium"].seeds == 1 and runs["cnn-medium"].failed == 1
    assert "seed 1 failed: boom" in render_markdown(report)
