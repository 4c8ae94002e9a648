"""Library exceptions to HTTP answers, in one place for the routers that share them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from fastapi import HTTPException

T = TypeVar("T")


@contextmanager
def answer_as(statuses: Mapping[type[Exception], int]) -> Iterator[None]:
    """Raise each listed exception as an HTTPException of its status, with the exception's message."""
    try:
        yield
    except tuple(statuses) as exc:
        status = next(code for kind, code in statuses.items() if isinstance(exc, kind))
        raise HTTPException(status_code=status, detail=str(exc)) from None


def found(row: T | None, kind: str, ident: str) -> T:
    """`row`, or a 404 that names what was looked for."""
    if row is None:
        raise HTTPException(status_code=404, detail=f"{kind} {ident!r} not found")
    return row
