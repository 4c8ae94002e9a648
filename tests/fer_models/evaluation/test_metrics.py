import numpy as np
import pytest
from sklearn import metrics as skm

from fer_models.evaluation.metrics import METRIC_NAMES, classification_report, normalised_confusion


def _random_case(seed: int, n: int = 400, classes: int = 7):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[y] * rng.random((n, 1))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed: int) -> None:
    y, probs = _random_case(seed)
    pred = probs.argmax(1)
    report = classification_report(y, probs, [f"c{k}" for k in range(7)])
    m = report.metrics
    assert set(METRIC_NAMES) <= set(m)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert m["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro", zero_division=0))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted", zero_division=0))
    assert m["roc_auc_macro"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert m["top2_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=2))
    assert report.confusion_matrix == skm.confusion_matrix(y, pred, labels=range(7)).tolist()
    f1s = skm.f1_score(y, pred, average=None, labels=range(7))
    for k in range(7):
        assert report.per_class[f"c{k}"]["f1"] == pytest.approx(f1s[k])
        assert report.per_class[f"c{k}"]["support"] == int((y == k).sum())


def test_class_missing_from_test_split_is_left_out_of_roc_auc_not_crashing() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.full((6, 7), 0.01)
    probs[np.arange(6), y] = 0.94
    m = classification_report(y, probs).metrics
    assert m["accuracy"] == 1.0
    assert m["roc_auc_macro"] == 1.0
    assert m["f1_macro"] == 1.0  # unseen classes (never true, never predicted) do not drag the mean to 3/7


def test_normalised_confusion_rows_sum_to_one_or_zero() -> None:
    cm = [[2, 2, 0], [0, 0, 0], [1, 0, 3]]
    norm = normalised_confusion(cm)
    assert norm[0].tolist() == [0.5, 0.5, 0.0]
    assert norm[1].tolist() == [0.0, 0.0, 0.0]
    assert norm[2].sum() == pytest.approx(1.0)


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="probs must be"):
        classification_report(np.zeros(3, dtype=int), np.zeros((4, 7)))
