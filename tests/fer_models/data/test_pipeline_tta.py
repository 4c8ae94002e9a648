import numpy as np
import pytest

from fer_models.data.pipeline import balanced_sample_weights, class_weights, to_model_input
from fer_models.data.tta import predict_with_tta, tta_views


def test_to_model_input_shape_dtype_and_values():
    images = np.arange(2 * 48 * 48, dtype=np.int64).reshape(2, 48, 48).astype(np.uint8)
    x = to_model_input(images)
    assert x.shape == (2, 48, 48, 1) and x.dtype == np.float32
    assert np.array_equal(x[..., 0], images.astype(np.float32))
    with pytest.raises(ValueError):
        to_model_input(images[0])


def test_balanced_class_weights_undo_the_imbalance():
    labels = np.array([0] * 90 + [1] * 10)
    weights = class_weights(labels, "balanced", num_classes=3)
    assert weights[0] * 90 == pytest.approx(weights[1] * 10) and weights[2] == 0.0
    assert class_weights(labels, "none") is None
    assert balanced_sample_weights(labels).mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="accepted: none, balanced"):
        class_weights(labels, "square")


def test_tta_views_and_averaging():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 48, 48, 1)).astype(np.float32)
    assert len(tta_views(x, "none")) == 1
    flip = tta_views(x, "flip")
    assert len(flip) == 2 and np.array_equal(flip[1], x[:, :, ::-1])
    ten = tta_views(x, "ten_crop")
    assert len(ten) == 10 and all(v.shape == x.shape for v in ten)
    # The centre crop is a zoom of the middle: constant images stay constant.
    flat = np.full((1, 48, 48, 1), 9.0, dtype=np.float32)
    assert all(np.allclose(v, 9.0) for v in tta_views(flat, "ten_crop"))

    def predict(batch):  # depends on the left half only: flips change it
        score = batch[:, :, :24].mean(axis=(1, 2, 3))
        return np.stack([score, 255.0 - score], axis=1) / 255.0

    averaged = predict_with_tta(predict, x, "flip")
    expected = (predict(x) + predict(x[:, :, ::-1])) / 2
    assert averaged.shape == (3, 2) and np.allclose(averaged, expected)
    assert predict_with_tta(predict, x, "ten_crop").shape == (3, 2)
    # Given the plain pass already made, flip predicts only the flipped copy: the same average.
    seen: list[np.ndarray] = []
    reused = predict_with_tta(lambda b: seen.append(b) or predict(b), x, "flip", plain_probs=predict(x))
    assert len(seen) == 1 and np.array_equal(seen[0], x[:, :, ::-1]) and np.allclose(reused, expected)
    seen.clear()  # ten-crop has no unchanged view: plain_probs is not used
    predict_with_tta(lambda b: seen.append(b) or predict(b), x, "ten_crop", plain_probs=predict(x))
    assert len(seen) == 10
    with pytest.raises(ValueError, match="accepted"):
        tta_views(x, "rotate")
