"""Ensembles of trained models from their saved probabilities: how to weight the members, and the average.

Weights are chosen on the validation split only (the test split stays untouched, so an ensemble's
test figure is as honest as a single model's) and then applied to any split with `combine`.
Everything works on probability arrays, so no model is loaded and TensorFlow is never imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from fer_models.errors import EvaluationInputError, lookup
from fer_models.evaluation.significance import (
    Metric,
    as_labels,
    check_label_range,
    check_whole_number,
    macro_f1,
    stacked_confusion,
)

EnsembleMethod = Literal["mean", "weighted", "greedy"]

# Probabilities below this count as this: one member giving the true class exactly 0 would otherwise
# make the log loss infinite and every candidate tie on it.
_PROB_FLOOR = 1e-15


def combine(member_probs: Sequence[Any], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted average (N, C) of the members' probabilities, as float32 like a model's own output.

    Weights need not sum to 1 (they are normalised); None weighs every member the same."""
    stack = _stack_members(member_probs)
    w = _normalised_weights(weights, len(stack))
    return np.tensordot(w, stack, axes=1).astype(np.float32)


def fit_weights(val_probs: Sequence[Any], y_val: Any) -> list[float]:
    """Non-negative weights summing to 1 that minimise the validation log loss of the average.

    The loss is convex in the weights (minus the log of a linear function), so SLSQP from equal
    weights reaches the global optimum, deterministically."""
    stack, y = _members_and_labels(val_probs, y_val)
    if len(stack) == 1:
        return [1.0]
    from scipy.optimize import minimize  # scikit-learn depends on SciPy, so it is always installed

    true_probs = stack[:, np.arange(len(y)), y].T  # (N, M): only the true class enters the log loss

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        mixed = np.maximum(true_probs @ w, _PROB_FLOOR)
        return float(-np.log(mixed).mean()), -(true_probs / mixed[:, None]).mean(axis=0)

    members = len(stack)
    result = minimize(loss_and_gradient, np.full(members, 1.0 / members), jac=True, method="SLSQP",
                      bounds=[(0.0, 1.0)] * members,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
                      options={"ftol": 1e-12, "maxiter": 500})
    weights = np.clip(result.x, 0.0, None)  # SLSQP may step a hair outside its bounds
    return (weights / weights.sum()).tolist()


def greedy_selection(val_probs: Sequence[Any], y_val: Any, *, rounds: int = 25,
                     metric: Metric = "accuracy") -> list[float]:
    """Forward selection with replacement (Caruana et al., 2004): start from the best single member,
    then each round add the member, repeats allowed, whose addition scores best on validation (ties:
    lower log loss, then the lower index). The best bag seen in any round wins, so the result never
    scores below the best single member. Weights are the members' counts in that bag over its size."""
    stack, y = _members_and_labels(val_probs, y_val)
    check_whole_number("rounds", rounds, 0, " (members added after the first)")
    score = lookup(_selection_scores(y, stack.shape[2]), metric, "selection metric", EvaluationInputError)
    true_probs = stack[:, np.arange(len(y)), y]  # (M, N)
    counts = np.zeros(len(stack), dtype=np.int64)
    running, running_true = np.zeros(stack.shape[1:]), np.zeros(len(y))  # the bag's sum, and its true column
    best_key, best_counts = (np.inf, np.inf), counts
    for size in range(1, rounds + 2):
        # Every member's candidate bag at once: the running sum plus that member, averaged.
        scores = score(((running + stack) / size).argmax(axis=2))
        losses = -np.log(np.maximum((running_true + true_probs) / size, _PROB_FLOOR)).mean(axis=1)
        pick = int(np.lexsort((losses, -scores))[0])  # lexsort is stable: equal keys keep the lower index
        counts[pick] += 1
        running += stack[pick]
        running_true += true_probs[pick]
        key = (-float(scores[pick]), float(losses[pick]))
        if key < best_key:  # strictly better only: on a tie the smaller, earlier bag stays
            best_key, best_counts = key, counts.copy()
    return (best_counts / best_counts.sum()).tolist()


def ensemble_weights(method: EnsembleMethod, val_probs: Sequence[Any], y_val: Any) -> list[float]:
    """The members' weights under `method`: "mean" (equal, so a member listed twice counts twice),
    "weighted" (`fit_weights`) or "greedy" (`greedy_selection` with its defaults)."""
    choose = lookup(_METHODS, method, "ensemble method", EvaluationInputError)
    return choose(val_probs, y_val)


def _equal_weights(val_probs: Sequence[Any], y_val: Any) -> list[float]:
    members = len(_stack_members(val_probs))
    return [1.0 / members] * members


_METHODS: dict[str, Callable[[Sequence[Any], Any], list[float]]] = {
    "mean": _equal_weights,
    "weighted": fit_weights,
    "greedy": greedy_selection,
}


def _stack_members(member_probs: Sequence[Any]) -> np.ndarray:
    """The members as one (M, N, C) float64 array; every member must have the first one's shape."""
    members = [np.asarray(p) for p in member_probs]
    if not members:
        raise EvaluationInputError("no members given: an ensemble needs at least one (N, C) probability array")
    first = members[0].shape
    if len(first) != 2 or first[0] < 1 or first[1] < 2:
        raise EvaluationInputError(f"member 0 has shape {first}; accepted: probabilities (N, C) with N >= 1, C >= 2")
    for index, member in enumerate(members[1:], start=1):
        if member.shape != first:
            raise EvaluationInputError(
                f"member {index} has shape {member.shape} but member 0 has {first}: every member must "
                "give probabilities for the same images and classes")
    stack = np.stack(members).astype(np.float64, copy=False)
    if not np.isfinite(stack).all():
        bad = int(np.flatnonzero(~np.isfinite(stack).reshape(len(stack), -1).all(axis=1))[0])
        raise EvaluationInputError(f"member {bad} holds NaN or infinite probabilities")
    return stack


def _members_and_labels(val_probs: Sequence[Any], y_val: Any) -> tuple[np.ndarray, np.ndarray]:
    stack = _stack_members(val_probs)
    y = as_labels(y_val, "y_val")
    if y.shape[0] != stack.shape[1]:
        raise EvaluationInputError(
            f"y_val has shape {y.shape} but the members have shape {stack.shape[1:]}: one label per image")
    check_label_range(y, "y_val", stack.shape[2], "the members' probabilities")
    return stack, y


def _normalised_weights(weights: Sequence[float] | None, members: int) -> np.ndarray:
    if weights is None:
        return np.full(members, 1.0 / members)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (members,):
        raise EvaluationInputError(f"weights has shape {w.shape} but there are {members} members: one weight each")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise EvaluationInputError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w / w.sum()


def _selection_scores(y: np.ndarray, num_classes: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Scorers of candidate predictions (M, N) against the validation labels, one value per candidate."""

    def accuracy(preds: np.ndarray) -> np.ndarray:
        return (preds == y).mean(axis=1)

    def f1_macro(preds: np.ndarray) -> np.ndarray:
        return macro_f1(stacked_confusion(y * num_classes + preds, num_classes))

    return {"accuracy": accuracy, "f1_macro": f1_macro}
