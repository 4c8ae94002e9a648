"""Parsing of the `unfreeze_schedule` hyperparameter (TF-free): "EPOCH:COUNT,EPOCH:COUNT"."""

from __future__ import annotations

ALL = "all"


def parse_unfreeze_schedule(text: str) -> list[tuple[int, int | str]]:
    """[(epoch, count or "all"), ...] with strictly increasing epochs; raises ValueError with the reason."""
    steps: list[tuple[int, int | str]] = []
    if not text.strip():
        return steps
    for part in text.split(","):
        epoch_text, sep, count_text = part.strip().partition(":")
        if not sep:
            raise ValueError(f"step {part.strip()!r} has no ':'")
        try:
            epoch = int(epoch_text)
        except ValueError:
            raise ValueError(f"epoch {epoch_text!r} is not an integer") from None
        if epoch < 0:
            raise ValueError(f"epoch {epoch} is negative")
        count: int | str
        if count_text.strip().lower() == ALL:
            count = ALL
        else:
            try:
                count = int(count_text)
            except ValueError:
                raise ValueError(f"count {count_text!r} is neither an integer nor 'all'") from None
            if count < 1:
                raise ValueError(f"count {count} must be at least 1")
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
