"""Library exceptions to HTTP answers, in one place for the routers that share them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastapi import HTTPException


@contextmanager
def answer_as(statuses: Mapping[type[Exception], int]) -> Iterator[None]:
    """Raise each listed exception as an HTTPException of its status, with the exception's message."""
    try:
        yield
    except tuple(statuses) as exc:
        status = next(code for kind, code in statuses.items() if isinstance(exc, kind))
        raise HTTPException(status_code=status, detail=str(exc)) from None
