"""Every registered model trains under TensorFlow and JAX with an odd batch size and a partial last batch.

One subprocess per backend (a crash in native code must not take pytest down, and must name the model).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from fer_models.models.pointwise import SubsampledPointwiseConv2D, is_strided_pointwise
from fer_models.models.registry import get_model, list_models
from fer_models.training.child_process import exit_description

BACKEND_ENV = {
    # oneDNN on, as users run TensorFlow on x86: its strided 1x1 backward pass is what crashed.
    "tensorflow": {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1"},
    "jax": {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(BACKEND_ENV))
def test_every_model_trains_odd_and_partial_batches(backend: str) -> None:
    env = {**os.environ, **BACKEND_ENV[backend]}
    script = Path(__file__).with_name("zoo_fit.py")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=root,
                         timeout=540)
    started = [line.split(" ", 1)[1] for line in out.stdout.splitlines() if line.startswith("start ")]
    assert out.returncode == 0, (f"{backend}: {started[-1] if started else 'start-up'} crashed the process "
                                 f"({exit_description(out.returncode)}): {out.stderr[-2000:]}")
    results = {r["name"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.startswith("{"))}
    assert sorted(results) == sorted(list_models())
    for name, r in results.items():
        assert math.isfinite(r["loss"]), name
        assert r["changed"], f"{name}: no weight changed after training under {backend}"
        assert r["shape"] == [33, 7] and r["dtype"] == "float32", name
        assert r["row_sum_error"] < 1e-5, name


def _layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


@pytest.mark.parametrize("name", ["mini-xception", "resnet50", "resnet50-lstm-attention"])
def test_no_model_keeps_a_strided_pointwise_convolution(name: str) -> None:
    # Whatever the batch and input size: the crash is shape-dependent, the fix is structural.
    layers = list(_layers(get_model(name, input_size=64)))
    assert not [layer.name for layer in layers if is_strided_pointwise(layer)]
    assert any(isinstance(layer, SubsampledPointwiseConv2D) for layer in layers)
