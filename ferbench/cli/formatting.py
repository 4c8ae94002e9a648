"""How the CLI shows a metric's value: counts as integers, ratios and times to 4 decimals."""

from __future__ import annotations

import math
from typing import Any

COUNT_METRICS = frozenset({"params", "model_bytes"})


def format_metric(name: str, value: Any) -> str:
    """`-` when missing; large values (throughput, seconds) without decimals, read with thousands separators."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return str(value)
    if name in COUNT_METRICS or isinstance(value, int):
        return f"{round(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"
