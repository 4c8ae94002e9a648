"""The HTTP commands of the CLI when things go wrong: one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ferbench.cli.service_commands import describe_outcome, describe_progress, metric_lines, spec_body

ROOT = Path(__file__).resolve().parents[3]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


@pytest.mark.parametrize("args", [["status", "abc"], ["leaderboard"], ["submit", "--model", "cnn-small"]])
def test_no_api_running_gives_one_line_saying_how_to_start_it(args: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = subprocess.run([sys.executable, "-m", "ferbench.cli.main", *args, "--api-url", url],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "ferbench up" in lines[0], done.stderr


def test_bad_hyperparameter_syntax_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "ferbench.cli.main", "submit", "--model", "cnn-small", "--hp", "dropout"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "NAME=VALUE" in done.stderr


def test_the_body_carries_only_what_was_given_so_server_defaults_apply() -> None:
    body = spec_body(model="cnn-small", dataset=None, epochs=3, batch_size=None, learning_rate=None, optimizer=None,
                     seed=None, hyperparameters={"dropout": 0.3}, repeats=3)
    assert body == {"model": "cnn-small", "epochs": 3, "hyperparameters": {"dropout": 0.3}, "repeats": 3}
    assert "repeats" not in spec_body(model="m", dataset=None, epochs=None, batch_size=None, learning_rate=None,
                                      optimizer=None, seed=None, hyperparameters=None, repeats=1)


def test_progress_line_shows_epoch_metrics_and_error() -> None:
    line = describe_progress({"id": "e1", "spec": {"model": "cnn-small"}, "status": "running",
                              "progress": {"epoch": 2, "epochs": 5, "metrics": {"val_accuracy": 0.4567}, "eta_seconds": 12.2}})
    assert "epoch 2/5" in line and "val_accuracy 0.457" in line and "eta 12s" in line
    failed = describe_progress({"id": "e2", "status": "failed", "error": "diverged at epoch 3, batch 7"})
    assert "diverged at epoch 3" in failed


def test_status_rounds_ratios_and_shows_counts_as_integers() -> None:
    lines = metric_lines({"accuracy": 0.28809523809523807, "params": 110759.0, "model_bytes": 443036.0,
                          "inference_ms": 1.23456, "throughput": 12345.678, "roc_auc_macro": None})
    assert lines == ["  accuracy             0.2881", "  inference_ms         1.2346", "  model_bytes          443,036",
                     "  params               110,759", "  roc_auc_macro        -", "  throughput           12,346"]


def test_the_final_submit_line_shows_the_test_accuracy() -> None:
    done = {"id": "e1", "status": "succeeded", "metrics": {"accuracy": 0.28809523809523807}}
    assert describe_outcome(done) == "e1  succeeded  test accuracy 0.2881"
    assert describe_outcome({"id": "e2", "status": "queued", "metrics": None}) == "e2  queued"


def _entry(rank: int, mean: float, protocol: str, recipe: str | None) -> dict:
    return {"rank": rank, "model": "cnn-small", "family": "cnn", "dataset": "fer2013", "split_fingerprint": "fp",
            "spec_key": f"k{rank}", "protocol": protocol, "recipe": recipe, "metric": "accuracy", "mean": mean,
            "std": None, "n_seeds": 1, "seeds": [0], "metrics": {"accuracy": mean}, "experiment_id": f"e{rank}",
            "experiment_url": f"/experiments/e{rank}", "experiment_ids": [f"e{rank}"], "mlflow_run_id": None,
            "mlflow_url": None, "mlflow_run_ids": [None], "spec": {}}


def test_leaderboard_names_its_protocol_shows_recipes_and_passes_the_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from api.schemas import LeaderboardOut
    from ferbench.cli.main import cli
    from ferbench.client import ApiClient

    asked: list[dict] = []

    def leaderboard(self: ApiClient, **params: object) -> LeaderboardOut:
        asked.append(params)
        return LeaderboardOut(metric="accuracy", order="desc", dataset="fer2013", protocol="official", entries=[
            _entry(1, 0.73, "official", "paper-vgg"), _entry(2, 0.61, "official", None)])

    monkeypatch.setattr(ApiClient, "leaderboard", leaderboard)
    runner = CliRunner()
    table = runner.invoke(cli, ["leaderboard", "--protocol", "official", "--recipe", "paper-vgg"])
    assert table.exit_code == 0, table.output
    assert asked[-1]["protocol"] == "official" and asked[-1]["recipe"] == "paper-vgg"
    lines = table.output.splitlines()
    assert lines[0].startswith("Protocol: official") and "recipe" in lines[1]
    assert "paper-vgg" in lines[2] and "0.7300" in lines[2]
    as_json = runner.invoke(cli, ["leaderboard", "--json"])
    assert [(e["protocol"], e["recipe"]) for e in json.loads(as_json.output)] == [("official", "paper-vgg"),
                                                                                 ("official", None)]
    bad = runner.invoke(cli, ["leaderboard", "--protocol", "80/10/10"])
    assert bad.exit_code == 2 and "official" in bad.output and "holdout" in bad.output
