"""Parsing of the `unfreeze_schedule` hyperparameter (TF-free): "EPOCH:COUNT,EPOCH:COUNT"."""

from __future__ import annotations

ALL = "all"


def _integer(text: str, what: str, not_integer: str, *, minimum: int, below: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} {not_integer}") from None
    if value < minimum:
        raise ValueError(f"{what} {value} {below}")
    return value


def parse_unfreeze_schedule(text: str) -> list[tuple[int, int | str]]:
    """[(epoch, count or "all"), ...] with strictly increasing epochs; raises ValueError with the reason."""
    steps: list[tuple[int, int | str]] = []
    if not text.strip():
        return steps
    for part in text.split(","):
        epoch_text, sep, count_text = part.strip().partition(":")
        if not sep:
            raise ValueError(f"step {part.strip()!r} has no ':'")
        epoch = _integer(epoch_text, "epoch", "is not an integer", minimum=0, below="is negative")
        count: int | str = ALL if count_text.strip().lower() == ALL else _integer(
            count_text, "count", "is neither an integer nor 'all'", minimum=1, below="must be at least 1")
        if steps and epoch <= steps[-1][0]:
            raise ValueError(f"epoch {epoch} does not come after epoch {steps[-1][0]}")
        steps.append((epoch, count))
    return steps


def schedule_problem(text: str) -> str | None:
    try:
        parse_unfreeze_schedule(text)
    except ValueError as exc:
        return str(exc)
    return None
