"""Minimal reproduction of issue 17: TensorFlow's oneDNN crashes in the backward pass of a 1x1, stride-2
convolution for some batch and feature-map shapes (SIGSEGV, or SIGABRT "free(): invalid pointer").

Pure TensorFlow, no Keras model: one `tf.nn.conv2d` and its gradient. Each case runs in its own
process (a crash must not end the script) in three forms: the strided 1x1 convolution as is, the
same with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0), and the formulation fer_models uses (slice every
second pixel, then a stride-1 1x1 convolution: fer_models/models/pointwise.py).

    python -m bench.repro_onednn_pointwise            # the table in docs/onednn-strided-pointwise.md
    python -m bench.repro_onednn_pointwise --case 33,44,8,16 --form strided   # one case, in this process
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

# (batch, height = width, input channels, output channels): mini-xception's first shortcut sees 44x44x8.
CASES = [(33, 44, 8, 16), (45, 44, 8, 16), (1, 44, 8, 16), (32, 44, 8, 16), (64, 44, 8, 16),
         (32, 46, 8, 16), (33, 22, 16, 32), (33, 45, 16, 32)]
FORMS = {"strided": {}, "strided-onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "sliced": {}}


def one(case: tuple[int, int, int, int], form: str) -> None:
    import tensorflow as tf

    batch, size, c_in, c_out = case
    x = tf.random.uniform((batch, size, size, c_in), seed=0)
    w = tf.random.uniform((1, 1, c_in, c_out), seed=1)
    with tf.GradientTape() as tape:
        tape.watch([x, w])
        if form == "sliced":
            y = tf.nn.conv2d(x[:, ::2, ::2, :], w, strides=1, padding="SAME")
        else:
            y = tf.nn.conv2d(x, w, strides=2, padding="SAME")
        loss = tf.reduce_sum(y * y)
    grads = tape.gradient(loss, [x, w])
    print(f"ok {[tuple(g.shape) for g in grads]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default=None, help="batch,size,c_in,c_out: run one case in this process")
    parser.add_argument("--form", default="strided", choices=sorted(FORMS))
    args = parser.parse_args()
    if args.case:
        one(tuple(int(v) for v in args.case.split(",")), args.form)  # type: ignore[arg-type]
        return 0
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs\n")
    print("| batch | input (HxWxC) | output C | " + " | ".join(FORMS) + " |")
    print("|---:|---|---:|" + "---|" * len(FORMS))
    for case in CASES:
        cells = []
        for form, extra in FORMS.items():
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
            code = subprocess.run([sys.executable, "-m", "bench.repro_onednn_pointwise", "--case",
                                   ",".join(map(str, case)), "--form", form],
                                  capture_output=True, env=env, timeout=300).returncode
            cells.append("ok" if code == 0 else signal.Signals(-code).name if code < 0 else f"exit {code}")
        batch, size, c_in, c_out = case
        print(f"| {batch} | {size}x{size}x{c_in} | {c_out} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
