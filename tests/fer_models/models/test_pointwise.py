"""SubsampledPointwiseConv2D computes exactly what a strided 1x1 Conv2D computes, and survives saving."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from fer_models.models.pointwise import SubsampledPointwiseConv2D, without_strided_pointwise


@pytest.mark.parametrize(("size", "padding", "strides"), [(12, "same", 2), (13, "valid", 2), (11, "same", (2, 3))])
def test_same_outputs_and_gradients_as_a_strided_conv(size: int, padding: str, strides) -> None:
    # The reference is worked out in numpy: running the strided kernel's backward pass here, in the
    # test process, is exactly what corrupts the heap under oneDNN (the crash then lands in a later test).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, size, size, 4)).astype("float32")
    safe = SubsampledPointwiseConv2D(5, 1, strides=strides, padding=padding)
    safe.build(x.shape)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in safe.weights)
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    picked = x[:, ::sh, ::sw, :]  # the pixels a 1x1 kernel with these strides reads, 'same' or 'valid'
    expected = np.einsum("nhwc,cf->nhwf", picked, kernel[0, 0]) + bias
    got = keras.ops.convert_to_numpy(safe(x))
    assert got.shape == expected.shape == safe.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)

    import tensorflow as tf  # the backend the suite runs on: gradients through the slice

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(safe(x) ** 2)
    grad_kernel, grad_bias = (g.numpy() for g in tape.gradient(loss, safe.trainable_weights))
    upstream = 2 * expected  # d(sum y^2)/dy
    np.testing.assert_allclose(grad_kernel[0, 0], np.einsum("nhwc,nhwf->cf", picked, upstream), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(grad_bias, upstream.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-3)


def test_saved_model_reloads_with_its_strides(tmp_path: Path) -> None:
    inputs = keras.Input((10, 10, 2))
    model = keras.Model(inputs, SubsampledPointwiseConv2D(3, strides=2, name="shortcut")(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert again.get_layer("shortcut").subsample == (2, 2)
    assert again.output.shape == (None, 5, 5, 3)
    x = np.ones((1, 10, 10, 2), "float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_rebuild_replaces_only_strided_pointwise_convolutions() -> None:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 1, strides=2, name="down")(inputs)
    x = keras.layers.Conv2D(4, 1, name="pointwise")(x)
    x = keras.layers.Conv2D(4, 3, strides=2, name="spatial")(x)
    rebuilt = without_strided_pointwise(keras.Model(inputs, x))
    assert type(rebuilt.get_layer("down")) is SubsampledPointwiseConv2D
    assert type(rebuilt.get_layer("pointwise")) is keras.layers.Conv2D
    assert type(rebuilt.get_layer("spatial")) is keras.layers.Conv2D
    assert rebuilt.output.shape == (None, 1, 1, 4)  # 8 -> 4 -> 4 -> 1 (3x3, stride 2, valid)


def test_refuses_a_kernel_larger_than_one() -> None:
    with pytest.raises(ValueError, match="1x1 kernel"):
        SubsampledPointwiseConv2D(4, 3, strides=2)
