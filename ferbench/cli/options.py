"""Click options more than one command shares, and the parsing of their values."""

from __future__ import annotations

import json
from typing import Any

import click


def parse_hyperparameters(values: tuple[str, ...]) -> dict[str, Any]:
    """`--hp NAME=VALUE` pairs as a dict; a VALUE that is JSON (0.3, true, "x") is decoded, any other stays text."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE (e.g. --hp dropout=0.3)", param_hint="--hp")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
