from typing import get_args

import numpy as np
import pytest

from fer_models.evaluation.ensembles import (
    EnsembleMethod,
    combine,
    ensemble_weights,
    fit_weights,
    greedy_selection,
)
from fer_models.evaluation.metrics import classification_metrics
from fer_models.errors import EvaluationInputError


def _members(seed: int, n: int = 997, classes: int = 7, members: int = 5) -> tuple[list[np.ndarray], np.ndarray]:
    """Members of uneven skill on one validation split, each with noise of its own."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    out = []
    for skill in rng.uniform(0.3, 2.5, members):
        logits = rng.normal(size=(n, classes)) + skill * np.eye(classes)[y]
        out.append((np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32))
    return out, y


def _accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == y).mean())


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.maximum(probs[np.arange(len(y)), y].astype(np.float64), 1e-15)).mean())


def test_ensemble_of_identical_members_is_the_member() -> None:
    members, _ = _members(0, members=1)
    assert np.array_equal(combine(members * 3), members[0])
    assert np.array_equal(combine(members * 2, [0.2, 5.0]), members[0])


def test_combine_is_the_normalised_weighted_average_in_float32() -> None:
    members, _ = _members(1, members=3)
    out = combine(members, [1.0, 0.0, 3.0])
    assert out.dtype == np.float32 and out.shape == members[0].shape
    np.testing.assert_allclose(out, 0.25 * members[0] + 0.75 * members[2], rtol=1e-6)
    np.testing.assert_allclose(combine(members), sum(members) / 3, rtol=1e-6)


def test_shape_mismatch_names_the_member_and_both_shapes() -> None:
    members, _ = _members(2, members=3)
    with pytest.raises(EvaluationInputError, match=r"member 2 has shape \(990, 7\) but member 0 has \(997, 7\)"):
        combine([members[0], members[1], members[2][:990]])
    with pytest.raises(EvaluationInputError, match=r"member 1 has shape \(997, 6\)"):
        fit_weights([members[0], members[1][:, :6]], np.zeros(997, dtype=int))
    with pytest.raises(EvaluationInputError, match=r"member 0 has shape \(997,\)"):
        combine([members[0].argmax(axis=1)])


@pytest.mark.parametrize(
    ("weights", "message"),
    [([1.0, 2.0], r"weights has shape \(2,\) but there are 3 members"), ([1.0, -1.0, 1.0], ">= 0"),
     ([0.0, 0.0, 0.0], "not all 0"), ([1.0, float("nan"), 1.0], "finite")],
)
def test_bad_weights_are_rejected(weights: list[float], message: str) -> None:
    members, _ = _members(3, members=3)
    with pytest.raises(EvaluationInputError, match=message):
        combine(members, weights)


def test_bad_labels_and_empty_member_lists_are_rejected() -> None:
    members, y = _members(4, members=2)
    with pytest.raises(EvaluationInputError, match=r"y_val has shape \(996,\) but the members have shape \(997, 7\)"):
        greedy_selection(members, y[:-1])
    with pytest.raises(EvaluationInputError, match="y_val holds label 7"):
        fit_weights(members, y + 1)
    with pytest.raises(EvaluationInputError, match="at least one"):
        ensemble_weights("mean", [], y)
    with pytest.raises(EvaluationInputError, match="rounds must be"):
        greedy_selection(members, y, rounds=-1)
    with pytest.raises(EvaluationInputError, match="unknown selection metric 'auc'"):
        greedy_selection(members, y, metric="auc")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_greedy_never_does_worse_on_validation_than_its_best_member(seed: int, metric: str) -> None:
    members, y = _members(seed, members=int(np.random.default_rng(seed).integers(2, 7)))
    weights = greedy_selection(members, y, rounds=17, metric=metric)
    assert sum(weights) == pytest.approx(1.0) and min(weights) >= 0
    score = lambda p: classification_metrics(y, p)[metric]  # noqa: E731
    assert score(combine(members, weights)) >= max(score(m) for m in members)


def test_greedy_weights_are_counts_over_the_bag_size() -> None:
    members, y = _members(7)
    weights = np.array(greedy_selection(members, y, rounds=11))
    sizes = [size for size in range(1, 13) if np.allclose(weights * size, np.round(weights * size))]
    assert sizes  # some bag of 1 + at most 11 additions


def test_greedy_with_no_rounds_picks_the_best_single_member_lowest_index_first() -> None:
    members, y = _members(8)
    best = int(np.argmax([_accuracy(m, y) for m in members]))
    assert greedy_selection(members, y, rounds=0) == [float(k == best) for k in range(len(members))]
    twins = [members[best], members[best]]
    assert greedy_selection(twins, y, rounds=0) == [1.0, 0.0]


def test_fit_weights_are_a_distribution_that_beats_every_member_on_log_loss() -> None:
    members, y = _members(9, n=1009)
    weights = fit_weights(members, y)
    assert min(weights) >= 0 and sum(weights) == pytest.approx(1.0, abs=1e-12)
    fitted = _log_loss(combine(members, weights), y)
    assert fitted <= min(_log_loss(m, y) for m in members) + 1e-6
    assert fitted <= _log_loss(combine(members), y) + 1e-6
    assert fit_weights(members, y) == weights  # deterministic


def test_fit_weights_puts_nearly_all_weight_on_a_perfect_member() -> None:
    members, y = _members(10, members=4)
    perfect = np.eye(7, dtype=np.float32)[y]
    weights = fit_weights(members[:2] + [perfect] + members[2:], y)
    assert weights[2] > 0.99
    assert fit_weights([perfect], y) == [1.0]


def test_dispatch_covers_every_method() -> None:
    members, y = _members(11, members=3)
    assert set(get_args(EnsembleMethod)) == {"mean", "weighted", "greedy"}
    assert ensemble_weights("mean", [members[0], members[0], members[1]], y) == [1 / 3] * 3  # a twin counts twice
    assert ensemble_weights("weighted", members, y) == fit_weights(members, y)
    assert ensemble_weights("greedy", members, y) == greedy_selection(members, y)
    with pytest.raises(EvaluationInputError, match="unknown ensemble method 'greedyy'. Did you mean 'greedy'"):
        ensemble_weights("greedyy", members, y)  # type: ignore[arg-type]
