"""How sure a test-set figure is: bootstrap intervals, paired model comparison and the spread of repeats.

A single accuracy on 7,000 test images hides a sampling error of about half a point, so two runs a
point apart may not differ at all. The percentile bootstrap resamples the test images: every
resample is a row of indices, and one gather (accuracy) or one `np.bincount` of stacked confusion
matrices (macro-F1) scores a whole chunk of rows at once, so 7,000 images x 1,000 resamples takes a
fraction of a second. Full-sample figures come from `metrics.classification_report`, so an estimate
here is the number the leaderboard shows, to the bit.

Only numpy and the project's errors are imported at load: `metrics` (scikit-learn) and SciPy cost
about a second of import and are loaded by the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fer_models.errors import EvaluationInputError, lookup

if TYPE_CHECKING:
    from fer_models.evaluation.metrics import ClassificationReport

Metric = Literal["accuracy", "f1_macro"]

# Indices drawn per chunk: ~16 MB of int32 plus its gathers, so memory stays flat however many
# resamples are asked for, while 7,000 images still need only two chunks for 1,000 resamples.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Interval:
    """A percentile-bootstrap interval; `resamples` and `seed` are kept so the figure can be redrawn."""

    low: float
    high: float
    estimate: float  # the full-sample figure, as classification_metrics reports it
    resamples: int
    seed: int
    level: float


@dataclass(frozen=True)
class Comparison:
    """Model a against model b on the same test images. Every difference is a minus b, so a positive
    number favours a. n01 counts the images a got wrong and b right, n10 those a got right and b wrong:
    only these discordant images carry evidence, hence McNemar's exact test on them."""

    n: int
    accuracy_a: float
    accuracy_b: float
    accuracy_diff: float
    accuracy_diff_ci: tuple[float, float]
    f1_macro_a: float
    f1_macro_b: float
    f1_macro_diff: float
    f1_macro_diff_ci: tuple[float, float]
    mcnemar_p: float
    n01: int
    n10: int
    per_class_f1_diff: dict[str, float]
    resamples: int
    seed: int
    level: float


def bootstrap_ci(y_true: Any, probs_or_pred: Any, *, metric: Metric = "accuracy", resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile-bootstrap interval of `metric` over the test images.

    `probs_or_pred` is either softmax probabilities (N, C) or predicted labels (N,): both metrics
    depend on the arg-max only."""
    y, pred, num_classes = _labels_and_predictions(y_true, probs_or_pred)
    _check_settings(resamples, seed, level)
    statistic = lookup(_statistics(y, pred, num_classes), metric, "bootstrap metric", EvaluationInputError)
    estimate = _report(y, pred, num_classes).metrics[metric]
    low, high = _percentile_interval(_bootstrap(len(y), resamples, seed, statistic), level)
    return Interval(low=low, high=high, estimate=estimate, resamples=resamples, seed=seed, level=level)


def paired_comparison(y_true: Any, pred_a: Any, pred_b: Any, *, resamples: int = 1000, seed: int = 0,
                      level: float = 0.95, class_names: Sequence[str]) -> Comparison:
    """Compare two models' predictions (labels (N,) or probabilities (N, C)) on the same test images.

    The bootstrap is paired, one set of resampled indices serving both models, so what the two share
    (the hard images) cancels out of the difference instead of widening its interval."""
    names = [str(name) for name in class_names]
    if len(names) < 2 or len(set(names)) != len(names):  # per-class figures are keyed by name
        raise EvaluationInputError(f"class_names must be two or more distinct names, got {names}")
    y, a, num_classes = _labels_and_predictions(y_true, pred_a, num_classes=len(names), what="pred_a")
    _, b, _ = _labels_and_predictions(y, pred_b, num_classes=num_classes, what="pred_b")
    _check_settings(resamples, seed, level)
    report_a, report_b = _report(y, a, num_classes, names), _report(y, b, num_classes, names)
    scorers_a, scorers_b = _statistics(y, a, num_classes), _statistics(y, b, num_classes)

    def differences(idx: np.ndarray) -> np.ndarray:  # columns: accuracy, macro-F1 (a - b)
        return np.stack([scorers_a[m](idx) - scorers_b[m](idx) for m in ("accuracy", "f1_macro")], axis=1)

    draws = _bootstrap(len(y), resamples, seed, differences)
    right_a, right_b = a == y, b == y
    n01, n10 = int(np.sum(~right_a & right_b)), int(np.sum(right_a & ~right_b))
    ma, mb = report_a.metrics, report_b.metrics
    return Comparison(
        n=len(y),
        accuracy_a=ma["accuracy"],
        accuracy_b=mb["accuracy"],
        accuracy_diff=ma["accuracy"] - mb["accuracy"],
        accuracy_diff_ci=_percentile_interval(draws[:, 0], level),
        f1_macro_a=ma["f1_macro"],
        f1_macro_b=mb["f1_macro"],
        f1_macro_diff=ma["f1_macro"] - mb["f1_macro"],
        f1_macro_diff_ci=_percentile_interval(draws[:, 1], level),
        mcnemar_p=mcnemar_exact(n01, n10),
        n01=n01,
        n10=n10,
        per_class_f1_diff={k: report_a.per_class[k]["f1"] - report_b.per_class[k]["f1"] for k in names},
        resamples=resamples,
        seed=seed,
        level=level,
    )


def mcnemar_exact(n01: int, n10: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant image is a fair coin, so
    p = min(1, 2 * BinomCDF(min(n01, n10); n01 + n10, 1/2)). With no discordant image there is no
    evidence either way: p = 1."""
    if n01 < 0 or n10 < 0:
        raise EvaluationInputError(f"discordant counts must be >= 0, got n01={n01}, n10={n10}")
    if n01 + n10 == 0:
        return 1.0
    from scipy.stats import binomtest  # scikit-learn depends on SciPy, so it is always installed

    return min(1.0, float(binomtest(min(n01, n10), n01 + n10, 0.5).pvalue))


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the mean of repeated runs (seeds); None below two values, where the
    spread, and so any interval, is undefined."""
    _check_level(level)
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(arr).all():
        raise EvaluationInputError(f"values must be finite numbers, got {arr.tolist()}")
    if arr.size < 2:
        return None
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1) / np.sqrt(arr.size))
    mean = float(arr.mean())
    return mean - half, mean + half


def stacked_confusion(codes: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrices (R, C, C) of R rows of `true * C + pred` codes, in one bincount: each row's
    codes are shifted into a block of their own, so no Python loop runs per row or per image."""
    rows = codes.shape[0]
    block = num_classes * num_classes
    flat = codes + (np.arange(rows, dtype=np.int64) * block)[:, None]
    return np.bincount(flat.ravel(), minlength=rows * block).reshape(rows, num_classes, num_classes)


def macro_f1(confusions: np.ndarray) -> np.ndarray:
    """Macro-F1 of each stacked confusion matrix (R, C, C), defined as in `metrics.classification_report`:
    the mean over the classes that occur in the labels or in the predictions of that matrix."""
    from fer_models.evaluation.metrics import _safe_div

    tp = np.diagonal(confusions, axis1=1, axis2=2).astype(np.float64)
    support = confusions.sum(axis=2)
    predicted = confusions.sum(axis=1)
    precision, recall = _safe_div(tp, predicted), _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    seen = (support > 0) | (predicted > 0)
    return _safe_div((f1 * seen).sum(axis=1), seen.sum(axis=1))


def as_labels(values: Any, what: str) -> np.ndarray:
    """A 1-D array of non-negative integer class labels (int64); floats are accepted when whole."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise EvaluationInputError(f"{what} must be class labels of shape (N,), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iub":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise EvaluationInputError(f"{what} must hold whole class numbers, got dtype {arr.dtype}")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise EvaluationInputError(f"{what} holds the negative label {int(labels.min())}; accepted: 0..C-1")
    return labels


def check_label_range(labels: np.ndarray, what: str, num_classes: int, source: str) -> None:
    """Every label must name one of the `num_classes` columns or names given by `source`."""
    if labels.size and labels.max() >= num_classes:
        raise EvaluationInputError(
            f"{what} holds label {int(labels.max())} but {source} gives {num_classes} classes "
            f"(labels 0..{num_classes - 1})")


def _labels_and_predictions(y_true: Any, probs_or_pred: Any, *, num_classes: int | None = None,
                            what: str = "probs_or_pred") -> tuple[np.ndarray, np.ndarray, int]:
    """Labels, arg-max predictions and the class count, checked against each other."""
    y = as_labels(y_true, "y_true")
    if y.size == 0:
        raise EvaluationInputError("y_true is empty: at least one test image is needed")
    arr = np.asarray(probs_or_pred)
    if arr.ndim == 2:
        if arr.shape[0] != y.shape[0] or arr.shape[1] < 2:
            raise EvaluationInputError(
                f"{what} has shape {arr.shape} but y_true has shape {y.shape}: probabilities must be "
                f"(N, C) with N={y.shape[0]} and C >= 2 (labels go as a 1-D (N,) array)")
        if num_classes is not None and arr.shape[1] != num_classes:
            raise EvaluationInputError(
                f"{what} has shape {arr.shape}, {arr.shape[1]} classes, but class_names names {num_classes}")
        if not np.isfinite(arr).all():
            raise EvaluationInputError(f"{what} holds NaN or infinite probabilities")
        pred, num_classes = arr.argmax(axis=1), arr.shape[1]
    else:
        pred = as_labels(arr, what)
        if pred.shape != y.shape:
            raise EvaluationInputError(f"{what} has shape {pred.shape} but y_true has shape {y.shape}: "
                                       "one prediction per test image is needed")
        if num_classes is None:
            num_classes = int(max(y.max(), pred.max())) + 1
        check_label_range(pred, what, num_classes, "class_names")
    check_label_range(y, "y_true", num_classes, what if arr.ndim == 2 else "class_names")
    return y, pred, num_classes


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise EvaluationInputError(f"level must be a confidence level between 0 and 1 (e.g. 0.95), got {level}")


def check_whole_number(name: str, value: Any, least: int, meaning: str = "") -> None:
    """`value` must be an int (not a bool, which Python counts as one) of at least `least`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise EvaluationInputError(f"{name} must be a whole number >= {least}{meaning}, got {value!r}")


def _check_settings(resamples: int, seed: int, level: float) -> None:
    _check_level(level)
    check_whole_number("resamples", resamples, 1, " (e.g. 1000)")
    check_whole_number("seed", seed, 0)


def _report(y: np.ndarray, pred: np.ndarray, num_classes: int,
            class_names: Sequence[str] | None = None) -> ClassificationReport:
    """The leaderboard's own figures for these predictions: one-hot rows have the same arg-max, hence
    the same confusion matrix, as the probabilities they came from."""
    from fer_models.evaluation.metrics import classification_report

    return classification_report(y, np.eye(num_classes)[pred], class_names)


def _statistics(y: np.ndarray, pred: np.ndarray,
                num_classes: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Per-resample scorers: each maps a chunk of index rows (R, N) to R values of its metric."""
    right = (pred == y).astype(np.int8)
    codes = y * num_classes + pred

    def accuracy(idx: np.ndarray) -> np.ndarray:
        return right[idx].sum(axis=1, dtype=np.int64) / idx.shape[1]

    def f1_macro(idx: np.ndarray) -> np.ndarray:
        return macro_f1(stacked_confusion(codes[idx], num_classes))

    return {"accuracy": accuracy, "f1_macro": f1_macro}


def _resample_chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Rows of bootstrap indices, drawn chunk by chunk from one generator (a given seed and n always
    yield the same rows)."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    dtype = np.int32 if n < 2**31 else np.int64  # int32 halves the memory and time of the draw
    for start in range(0, resamples, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, resamples - start), n), dtype=dtype)


def _bootstrap(n: int, resamples: int, seed: int, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.concatenate([statistic(idx) for idx in _resample_chunks(n, resamples, seed)])


def _percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
