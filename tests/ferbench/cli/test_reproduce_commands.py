"""`ferbench reproduce writeup`: bad input is a usage error naming what is accepted; the progress line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.schemas import ExperimentOut
from ferbench.cli.main import cli
from ferbench.cli.reproduce_commands import ProgressLine, _without_missing_weights
from ferbench.reports.writeup_plan import choose_recipes, plan_runs


def test_an_unknown_model_is_a_usage_error_naming_the_writeup_models() -> None:
    done = CliRunner().invoke(cli, ["reproduce", "writeup", "--models", "cnn-small,mini-xception"])
    assert done.exit_code == 2
    assert "not a write-up model: mini-xception" in done.output and "vgg19, vgg19-frozen" in done.output


@pytest.mark.parametrize("seeds", ["0", "11"])
def test_seeds_out_of_range_state_the_accepted_range(seeds: str) -> None:
    done = CliRunner().invoke(cli, ["reproduce", "writeup", "--seeds", seeds])
    assert done.exit_code == 2 and "1<=x<=10" in done.output


def test_imagenet_models_without_cached_weights_are_skipped_saying_where_to_put_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    lines: list[str] = []
    planned = plan_runs(choose_recipes(["vgg19", "cnn-small"]), dataset="d", seeds=1, quick=True)
    assert [r.model for r in _without_missing_weights(planned, lines.append)] == ["cnn-small"]
    assert "skipping vgg19" in lines[0] and str(tmp_path) in lines[0] and "--weights none" in lines[0]
    scratch = plan_runs(choose_recipes(["vgg19"]), dataset="d", seeds=1, quick=True, weights="none")
    assert [r.model for r in _without_missing_weights(scratch, lines.append)] == ["vgg19"]


def _exp(i: int, status: str) -> ExperimentOut:
    return ExperimentOut.model_validate({
        "id": f"e{i}", "status": status, "model": "cnn-small", "family": "cnn", "dataset": "d", "seed": 0,
        "group_id": None, "spec_key": "k", "spec": {}, "progress": {"epoch": 1, "epochs": 5} if status == "running"
        else None, "metrics": None, "mlflow_run_id": None, "mlflow_url": None, "error": None, "attempts": 0,
        "cancel_requested": False, "worker": None, "created_at": "2026-01-01T00:00:00", "enqueued_at": None,
        "started_at": None, "finished_at": None, "heartbeat_at": None})


def test_the_progress_line_counts_finished_experiments_and_estimates_the_rest() -> None:
    lines: list[str] = []
    progress = ProgressLine(3, lines.append)
    progress([_exp(0, "running"), _exp(1, "queued"), _exp(2, "queued")])
    progress([_exp(0, "running"), _exp(1, "queued"), _exp(2, "queued")])  # nothing changed: no line
    progress([_exp(0, "succeeded"), _exp(1, "running"), _exp(2, "queued")])
    assert len(lines) == 2
    assert lines[0].startswith("[0/3 finished") and "ETA after the first finishes" in lines[0] and "epoch 1/5" in lines[0]
    assert lines[1].startswith("[1/3 finished") and "ETA " in lines[1] and "e1 cnn-small running" in lines[1]
