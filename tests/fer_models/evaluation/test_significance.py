from math import comb

import numpy as np
import pytest

from fer_models.errors import EvaluationInputError, FerBenchError
from fer_models.evaluation.metrics import classification_metrics
from fer_models.evaluation.significance import (
    bootstrap_ci,
    macro_f1,
    mcnemar_exact,
    mean_interval,
    paired_comparison,
    stacked_confusion,
)

NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _case(seed: int, n: int = 997, classes: int = 7, signal: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + signal * np.eye(classes)[y] * rng.random((n, 1))
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def _with_accuracy(rng: np.random.Generator, n: int, p: float, classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A test set whose predictions are right with probability p, wrong ones spread over the other classes."""
    y = rng.integers(0, classes, n)
    wrong = (y + rng.integers(1, classes, n)) % classes
    return y, np.where(rng.random(n) < p, y, wrong)


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
@pytest.mark.parametrize("seed", [0, 3])
def test_estimate_is_classification_metrics_figure_exactly(metric: str, seed: int) -> None:
    y, probs = _case(seed)
    interval = bootstrap_ci(y, probs, metric=metric, resamples=301, seed=seed)
    assert interval.estimate == classification_metrics(y, probs)[metric]
    assert interval.low <= interval.estimate <= interval.high
    assert (interval.resamples, interval.seed, interval.level) == (301, seed, 0.95)


def test_labels_and_probabilities_give_the_same_interval() -> None:
    y, probs = _case(1)
    assert bootstrap_ci(y, probs, metric="f1_macro", resamples=211) == bootstrap_ci(
        y, probs.argmax(axis=1), metric="f1_macro", resamples=211)


def test_resampled_macro_f1_matches_metrics_definition_even_with_a_class_missing() -> None:
    y, probs = _case(2, n=151)
    pred = probs.argmax(axis=1)
    rng = np.random.default_rng(5)
    rows = [rng.integers(0, 151, 151) for _ in range(4)]
    rows.append(np.flatnonzero((y != 3) & (pred != 3))[:97])  # class 3 neither true nor predicted
    rows.append(np.flatnonzero(y != 5)[:97])  # class 5 only predicted, never true
    for idx in rows:
        codes = (y[idx] * 7 + pred[idx])[None, :]
        got = macro_f1(stacked_confusion(codes, 7))[0]
        assert got == pytest.approx(classification_metrics(y[idx], probs[idx])["f1_macro"], abs=1e-12)


def test_stacked_confusion_counts_each_row_separately() -> None:
    codes = np.array([[0, 0, 3, 1], [2, 2, 2, 2]])  # 2 classes: codes are true * 2 + pred
    cm = stacked_confusion(codes, 2)
    assert cm.tolist() == [[[2, 1], [0, 1]], [[0, 0], [4, 0]]]


def test_same_seed_reproduces_and_another_seed_differs() -> None:
    y, probs = _case(4)
    first = bootstrap_ci(y, probs, metric="f1_macro", resamples=257, seed=11)
    assert bootstrap_ci(y, probs, metric="f1_macro", resamples=257, seed=11) == first
    assert bootstrap_ci(y, probs, metric="f1_macro", resamples=257, seed=12) != first


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_chunking_does_not_change_the_interval(monkeypatch: pytest.MonkeyPatch, metric: str) -> None:
    import fer_models.evaluation.significance as significance

    y, probs = _case(6, n=503)
    whole = bootstrap_ci(y, probs, metric=metric, resamples=41, seed=2)
    monkeypatch.setattr(significance, "_CHUNK_ELEMENTS", 503 * 7)  # 7 rows a chunk, the last one short
    assert bootstrap_ci(y, probs, metric=metric, resamples=41, seed=2) == whole


def test_95_percent_interval_covers_the_true_accuracy_about_95_percent_of_the_time() -> None:
    # 400 test sets rather than 200: coverage is ~0.94, and with 200 the 0.90 floor is only ~2.5 standard
    # errors away (this very seed's first 200 sets cover 0.905); with 400 it is ~3.5.
    rng = np.random.default_rng(2024)
    p, trials = 0.65, 400
    covered = 0
    for trial in range(trials):
        y, pred = _with_accuracy(rng, 500, p)
        interval = bootstrap_ci(y, pred, resamples=300, seed=trial)
        covered += interval.low <= p <= interval.high
    assert 0.90 <= covered / trials <= 0.99


def test_interval_narrows_with_more_images_and_widens_with_level() -> None:
    rng = np.random.default_rng(8)
    small, large = _with_accuracy(rng, 499, 0.7), _with_accuracy(rng, 4999, 0.7)
    width = lambda iv: iv.high - iv.low  # noqa: E731
    assert width(bootstrap_ci(*large, resamples=300)) < width(bootstrap_ci(*small, resamples=300))
    assert width(bootstrap_ci(*small, resamples=300, level=0.99)) > width(bootstrap_ci(*small, resamples=300))


def test_mcnemar_matches_a_hand_worked_table() -> None:
    # n01 = 2, n10 = 9: under H0 the 11 discordant images are fair coins, so
    # p = 2 * (C(11,0) + C(11,1) + C(11,2)) / 2**11 = 2 * (1 + 11 + 55) / 2048 = 134 / 2048 = 0.06543
    assert sum(comb(11, k) for k in range(3)) == 67
    assert mcnemar_exact(2, 9) == pytest.approx(134 / 2048, abs=1e-12)
    assert round(mcnemar_exact(2, 9), 4) == 0.0654
    assert mcnemar_exact(9, 2) == mcnemar_exact(2, 9)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0  # 2 * CDF passes 1 at the centre: capped


def test_paired_comparison_counts_discordant_pairs_and_signs_differences_a_minus_b() -> None:
    # 13 images, 7 classes: 2 only b gets right (n01), 9 only a gets right (n10), 2 both right.
    y = np.array([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5])
    a = y.copy()
    b = y.copy()
    a[[0, 1]] = (y[[0, 1]] + 1) % 7
    b[2:11] = (y[2:11] + 1) % 7
    result = paired_comparison(y, a, b, class_names=NAMES, resamples=199)
    assert (result.n01, result.n10, result.n) == (2, 9, 13)
    assert round(result.mcnemar_p, 4) == 0.0654
    assert result.accuracy_a == pytest.approx(11 / 13) and result.accuracy_b == pytest.approx(4 / 13)
    assert result.accuracy_diff == pytest.approx(7 / 13)
    assert result.f1_macro_diff == pytest.approx(result.f1_macro_a - result.f1_macro_b)
    assert result.f1_macro_a == classification_metrics(y, np.eye(7)[a])["f1_macro"]
    assert set(result.per_class_f1_diff) == set(NAMES)


def test_comparing_a_run_with_itself_shows_no_difference() -> None:
    y, probs = _case(9)
    result = paired_comparison(y, probs, probs.argmax(axis=1), class_names=NAMES, resamples=123)
    assert result.accuracy_diff == 0.0 and result.f1_macro_diff == 0.0
    assert result.accuracy_diff_ci == (0.0, 0.0) and result.f1_macro_diff_ci == (0.0, 0.0)
    assert (result.n01, result.n10, result.mcnemar_p) == (0, 0, 1.0)
    assert set(result.per_class_f1_diff.values()) == {0.0}


def test_paired_interval_finds_a_real_improvement() -> None:
    rng = np.random.default_rng(13)
    y, a = _with_accuracy(rng, 997, 0.60)
    b = np.where(rng.random(997) < 0.5, y, a)  # b fixes about half of a's mistakes, breaks none
    result = paired_comparison(y, a, b, class_names=NAMES, resamples=500, seed=1)
    assert result.n10 == 0 and result.n01 > 100
    assert result.accuracy_diff_ci[1] < 0 and result.f1_macro_diff_ci[1] < 0  # a - b: b is better
    assert result.accuracy_diff_ci[0] <= result.accuracy_diff <= result.accuracy_diff_ci[1]
    assert result.mcnemar_p < 1e-30


def test_mean_interval_is_the_student_t_interval() -> None:
    # mean 3, sample sd sqrt(2.5), t(0.975; 4) = 2.776445: half width 2.776445 * sqrt(2.5 / 5) = 1.963243
    low, high = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (low, high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert type(low) is float and type(high) is float
    assert mean_interval([0.71, 0.71, 0.71]) == pytest.approx((0.71, 0.71))
    assert mean_interval([0.7]) is None and mean_interval([]) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y, p: bootstrap_ci(y[:-1], p), r"shape \(996, 7\) .*y_true has shape \(995,\)"),
        (lambda y, p: bootstrap_ci(y, p[:, :1]), r"shape \(996, 1\).*labels go as a 1-D"),
        (lambda y, p: bootstrap_ci(y[:0], p[:0]), "at least one test image"),
        (lambda y, p: bootstrap_ci(y, p.argmax(1)[:-3]), r"shape \(993,\) but y_true has shape \(996,\)"),
        (lambda y, p: bootstrap_ci(y + 1, p), "y_true holds label 7 but probs_or_pred gives 7 classes"),
        (lambda y, p: bootstrap_ci(y, p, metric="f1"), "unknown bootstrap metric 'f1'.*accuracy, f1_macro"),
        (lambda y, p: bootstrap_ci(y, p, level=95), "level must be .* got 95"),
        (lambda y, p: bootstrap_ci(y, p, resamples=0), "resamples must be a whole number >= 1"),
        (lambda y, p: paired_comparison(y, p, p[:, :6], class_names=NAMES), r"pred_b has shape \(996, 6\)"),
        (lambda y, p: paired_comparison(y, p, p, class_names=NAMES[:5]), "class_names names 5"),
        (lambda y, p: paired_comparison(y, y, y + 1, class_names=NAMES), "pred_b holds label 7"),
        (lambda y, p: paired_comparison(y, p, p, class_names=NAMES[:6] + ["sad"]), "distinct names"),
        (lambda y, p: mean_interval([0.5, float("nan")]), "finite"),
    ],
)
def test_bad_input_is_rejected_with_what_was_wrong(call, message: str) -> None:
    y, probs = _case(0, n=996)
    with pytest.raises(EvaluationInputError, match=message) as caught:
        call(y, probs)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, FerBenchError)


def test_importing_pulls_in_neither_tensorflow_nor_scikit_learn() -> None:
    import subprocess
    import sys

    code = ("import sys, fer_models.evaluation.significance, fer_models.evaluation.ensembles; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
