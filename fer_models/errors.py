"""User-facing errors: each message says what was wrong, where, and what is accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FerBenchError(Exception):
    """Base for errors caused by bad input or a missing resource (never by a bug)."""


class DatasetError(FerBenchError):
    """A dataset source is missing, malformed or unreadable."""


class ModelError(FerBenchError):
    """Unknown model, bad hyperparameter, bad input size or unavailable weights."""


class SpecError(FerBenchError):
    """An experiment spec field is invalid."""


class TrainingError(FerBenchError):
    """Training failed in a way the user can act on (divergence, out of memory, time cap)."""


class EvaluationInputError(FerBenchError, ValueError):
    """Labels, predictions or probabilities that do not fit together (shapes, ranges, settings).

    A ValueError too, so callers that validate numeric input the numpy way catch it unchanged."""


class ResultNotLogged(TrainingError):
    """The run was trained and evaluated, but logging its results to MLflow failed (the tracking server
    went away at the end). `metrics` are the test-set figures already computed, so a caller can keep them."""

    def __init__(self, message: str, metrics: Mapping[str, float] | None = None) -> None:
        super().__init__(message)
        self.metrics: dict[str, float] = dict(metrics or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle their args only: keep the metrics across a process boundary too.
        return (type(self), (str(self), self.metrics))


def lookup(table: Mapping[str, Any], name: Any, kind: str, error: type[FerBenchError], *, cutoff: float = 0.5) -> Any:
    """`table[name]`, else `error` naming the closest entry and every one that exists."""
    import difflib

    try:
        return table[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name).lower(), list(table), n=1, cutoff=cutoff)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise error(f"unknown {kind} {name!r}.{hint} Available: {', '.join(table)}")
