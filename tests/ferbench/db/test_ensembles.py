"""Stored predictions in SQL: ensembles' member checks, the in-process `ferbench ensemble` / `compare`,
and the leaderboard's significance marks, on runs with made-up predictions of known quality."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from fer_models.data.labels import EMOTIONS
from fer_models.errors import FerBenchError
from fer_models.evaluation.metrics import classification_metrics
from fer_models.evaluation.predictions import Predictions, interval_metrics
from ferbench.cli.main import cli
from ferbench.db import ensembles, experiments, leaderboard, lifecycle
from ferbench.settings import get_settings

N_VAL, N_TEST = 503, 997  # odd sizes, as real splits have


def predictions(right: float, seed: int, split: str = "split-a") -> Predictions:
    """Probabilities that put most mass on the true class for a `right` share of the images."""
    rng = np.random.default_rng(seed)
    labels = np.random.default_rng(99)  # the same images for every model of a split

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = labels.integers(0, 7, n)
        wrong = (y + rng.integers(1, 7, n)) % 7
        pred = np.where(rng.random(n) < right, y, wrong)
        probs = rng.dirichlet(np.ones(7), n).astype(np.float32) * 0.5
        probs[np.arange(n), pred] += 0.5
        return y, probs

    (yv, pv), (yt, pt) = part(N_VAL), part(N_TEST)
    return Predictions(split, tuple(EMOTIONS), yv, pv, yt, pt)


def finished(session: Session, pred: Predictions | None, *, seed: int, model: str = "cnn-small",
             dataset: str = "synthetic", split: str = "split-a") -> str:
    spec = {"model": model, "dataset": dataset, "epochs": 1, "seed": seed}
    (row,) = experiments.create_experiments(session, [spec], enqueue=lambda _id: None,
                                            families={model: "cnn"}).experiments
    lifecycle.claim_experiment(session, row.id)
    metrics = ({**classification_metrics(pred.test_labels, pred.test_probs),
                **interval_metrics(pred.test_labels, pred.test_probs)} if pred else {"accuracy": 0.5})
    lifecycle.finish_experiment(session, row.id, lifecycle.ResultRecord(
        metrics=metrics, split_fingerprint=split, per_class={}, predictions=pred.to_bytes() if pred else None))
    return row.id


@pytest.fixture
def in_process(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FERBENCH_DATABASE_URL", session.get_bind().url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_members_must_exist_have_succeeded_share_a_split_and_have_predictions(session: Session) -> None:
    good = finished(session, predictions(0.8, 1), seed=1)
    other = finished(session, predictions(0.8, 2, split="split-b"), seed=2, split="split-b")
    old = finished(session, None, seed=3)
    with pytest.raises(ensembles.Rejected, match="unknown experiment: nope") as unknown:
        ensembles.check_members(session, [good, "nope"])
    assert unknown.value.status == 404
    with pytest.raises(ensembles.Rejected, match=f"split.*{other} \\(split-b\\)"):
        ensembles.check_members(session, [good, other])
    with pytest.raises(ensembles.Rejected, match=f"no stored predictions for {old}"):
        ensembles.check_members(session, [good, old])
    with pytest.raises(ensembles.Rejected, match="members is empty"):
        ensembles.check_members(session, [])
    with pytest.raises(ensembles.Rejected, match="has 2 entries; accepted: k <= 2"):
        ensembles.top_members(session, ensembles.TopQuery(dataset="synthetic", k=4))  # two specs: one per split
    assert ensembles.check_members(session, [good, good]).ids == [good, good]  # twice: accepted, weighs double


def test_ensemble_and_compare_in_process(session: Session, in_process: CliRunner) -> None:
    ids = [finished(session, predictions(0.62, seed), seed=seed, model=model)
           for seed, model in zip((1, 2, 3), ("cnn-small", "vgg19", "resnet50"))]
    out = in_process.invoke(cli, ["ensemble", *ids, "--method", "greedy", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    best = max(classification_metrics(predictions(0.62, s).test_labels, predictions(0.62, s).test_probs)["accuracy"]
               for s in (1, 2, 3))
    # Independent errors of three 62% members: the average is right more often than any one of them.
    assert result["metrics"]["accuracy"] > best and result["recorded"] is False
    assert result["metrics"]["accuracy_ci_low"] < result["metrics"]["accuracy"] < result["metrics"]["accuracy_ci_high"]
    top = in_process.invoke(cli, ["ensemble", "--top", "2", "--dataset", "synthetic"])
    assert top.exit_code == 0 and "Ensemble (mean) of 2 members" in top.output, top.output
    refused = in_process.invoke(cli, ["ensemble", ids[0], "nope"])
    assert isinstance(refused.exception, FerBenchError) and "unknown experiment: nope" in str(refused.exception)

    same = json.loads(in_process.invoke(cli, ["compare", ids[0], ids[0], "--json"]).output)
    assert same["accuracy_diff"] == 0 and same["mcnemar_p"] == 1.0
    text = in_process.invoke(cli, ["compare", ids[0], ids[1]])
    assert text.exit_code == 0 and "McNemar's exact test: p =" in text.output and "difference" in text.output


def test_the_leaderboard_marks_rows_within_noise_of_the_top(session: Session) -> None:
    top = finished(session, predictions(0.80, 1), seed=1, model="vgg19")
    close = finished(session, predictions(0.79, 2), seed=2, model="resnet50")
    far = finished(session, predictions(0.50, 3), seed=3, model="cnn-small")
    board = leaderboard.leaderboard(session, dataset="synthetic")
    assert {e.experiment_id for e in board[:2]} == {top, close} and board[2].experiment_id == far
    assert [e.differs_from_top for e in board] == [None, False, True]  # one point apart on 997 images is noise
    low, high = board[0].ci
    assert low < board[0].mean < high
    assert board[0].mean_ci is None  # one seed: no interval over seeds
