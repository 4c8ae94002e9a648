"""Every registered model builds and trains one step under the JAX backend (one subprocess for all)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fer_models.models.registry import list_models


@pytest.mark.slow
def test_every_model_trains_one_step_under_jax() -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}
    script = Path(__file__).with_name("jax_steps.py")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=root,
                         timeout=480)
    assert out.returncode == 0, out.stderr[-3000:]
    results = {r["name"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.startswith("{"))}
    assert sorted(results) == sorted(list_models())
    for name, r in results.items():
        assert math.isfinite(r["loss"]), name
        assert r["changed"], f"{name}: no weight changed after a JAX training step"
        assert r["shape"] == [4, 7] and r["dtype"] == "float32", name
        assert r["row_sum_error"] < 1e-5, name
