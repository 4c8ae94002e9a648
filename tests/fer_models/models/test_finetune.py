"""VGG19 base size and freezing, and the ResNet50 unfreezing schedule acting on the right layers."""

from __future__ import annotations

import keras
import numpy as np

from fer_models.models.finetune import Phase, apply_phase, find_backbone, training_phases
from fer_models.models.registry import get_model


def test_vgg19_base_has_exactly_keras_vgg19_parameters() -> None:
    model = get_model("vgg19", input_size=32)
    reference = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    assert find_backbone(model).count_params() == reference.count_params()


def test_vgg19_frozen_has_no_trainable_base_weights_even_after_its_phase() -> None:
    model = get_model("vgg19-frozen", input_size=32)
    assert find_backbone(model).trainable_weights == []
    assert model.trainable_weights  # the head trains
    phases = training_phases("vgg19-frozen", {})
    for phase in phases:
        apply_phase(model, phase)
        assert find_backbone(model).trainable_weights == []
    assert training_phases("vgg19", {"trainable_base": False}) == phases
    assert training_phases("vgg19", {})[0].trainable is True


def test_resnet50_phases_follow_the_schedule() -> None:
    phases = training_phases("resnet50", {"unfreeze_schedule": "2:3,4:all", "finetune_lr_factor": 0.2})
    assert phases == [Phase(0, "head", 1.0), Phase(2, "blocks:3", 0.2), Phase(4, True, 0.2)]
    assert training_phases("resnet50", {"unfreeze_schedule": "0:all"}) == [Phase(0, True, 0.1)]
    assert [p.trainable for p in training_phases("resnet50", {"unfreeze_schedule": ""})] == ["head"]


def _trainable_layers(base) -> set[str]:
    return {layer.name for layer in base.layers if layer.trainable and layer.weights}


def test_resnet50_schedule_changes_which_layers_train_and_frozen_bn_stays_put() -> None:
    hp = {"unfreeze_schedule": "1:3,2:all"}
    model = get_model("resnet50", input_size=32, **hp)
    base = find_backbone(model)
    head, top3, everything = training_phases("resnet50", hp)
    assert base.trainable_weights == []  # built in its epoch-0 state

    apply_phase(model, top3)
    names = _trainable_layers(base)
    assert names and all(n.startswith("conv5_block") for n in names)
    assert "conv5_block1_1_conv" in names and "conv4_block6_3_conv" not in names
    assert not any(isinstance(base.get_layer(n), keras.layers.BatchNormalization) for n in names)

    pixels = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype("float32")
    conv5, conv4, bn5 = (base.get_layer(n) for n in ("conv5_block3_3_conv", "conv4_block6_3_conv", "conv5_block3_3_bn"))
    before = [np.array(v) for v in (conv5.kernel, conv4.kernel, bn5.moving_mean)]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", run_eagerly=True)
    model.train_on_batch(pixels, np.arange(4))
    assert not np.array_equal(before[0], np.array(conv5.kernel))
    np.testing.assert_array_equal(before[1], np.array(conv4.kernel))
    np.testing.assert_array_equal(before[2], np.array(bn5.moving_mean))  # frozen BN ran in inference mode

    apply_phase(model, everything)
    assert _trainable_layers(base) == {layer.name for layer in base.layers if layer.weights}
    apply_phase(model, head)
    assert base.trainable_weights == []


def test_unfreeze_by_layers_counts_weighted_layers_from_the_top() -> None:
    model = get_model("resnet50-lstm", input_size=64, unfreeze_unit="layers", unfreeze_schedule="1:4")
    base = find_backbone(model)
    apply_phase(model, training_phases("resnet50-lstm", {"unfreeze_unit": "layers", "unfreeze_schedule": "1:4"})[1])
    weighted = [layer for layer in base.layers if layer.weights][-4:]
    expected = {layer.name for layer in weighted if not isinstance(layer, keras.layers.BatchNormalization)}
    assert _trainable_layers(base) == expected


def test_imagenet_bases_use_fast_batchnorm_statistics_and_keep_them_after_reload(tmp_path) -> None:
    """Keras' 0.99 momentum left mobilenet's validation at chance after a short run (the demo's 0.14)."""
    from fer_models.models.input_adapter import BN_MOMENTUM

    model = get_model("mobilenetv2", input_size=32, alpha=0.35)
    model.save(tmp_path / "m.keras")
    for candidate in (model, keras.models.load_model(tmp_path / "m.keras")):
        norms = [layer for layer in find_backbone(candidate).layers if isinstance(layer, keras.layers.BatchNormalization)]
        assert norms and {layer.momentum for layer in norms} == {BN_MOMENTUM}
