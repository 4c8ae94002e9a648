"""Canonical JSON and the hashes that key rows: a request body's (idempotency) and a spec's (its seeds' group)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def without_seed(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the seeds of one spec share."""
    return {k: v for k, v in spec.items() if k != "seed"}


def spec_key(spec: Mapping[str, Any]) -> str:
    """Groups the seeds of one spec: the hash of everything but the seed."""
    return sha256(without_seed(spec))
