"""Weights: ImageNet files from Keras' own cache (never downloaded) and user weight files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fer_models.errors import ModelError

_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_V1_ROWS = (128, 160, 192, 224)
_MOBILENET_V2_ROWS = (96, 128, 160, 192, 224)


def keras_cache_dir() -> Path:
    """Where keras.utils.get_file(cache_subdir="models") looks, read now (Keras reads KERAS_HOME at import)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return Path(os.path.expanduser(home)) / "models"


def imagenet_file_name(arch: str, *, input_size: int = 224, alpha: float = 1.0) -> tuple[str, str]:
    """(file name, origin URL) of the no-top ImageNet weights keras.applications would fetch."""
    if arch == "vgg19":
        name, folder = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg19"
    elif arch == "resnet50":
        name, folder = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "resnet"
    elif arch == "mobilenet":
        rows = input_size if input_size in _MOBILENET_V1_ROWS else 224
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(float(alpha), "2_5")
        name, folder = f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5", "mobilenet"
    elif arch == "mobilenetv2":
        rows = input_size if input_size in _MOBILENET_V2_ROWS else 224
        name, folder = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5", "mobilenet_v2"
    else:
        raise ModelError(f"architecture {arch!r} has no ImageNet weights; accepted weights: none")
    return name, f"{_ORIGIN}{folder}/{name}"


def _not_cached(arch: str, model_name: str, *, input_size: int, alpha: float) -> str | None:
    file_name, origin = imagenet_file_name(arch, input_size=input_size, alpha=alpha)
    folder = keras_cache_dir()
    if (folder / file_name).is_file():
        return None
    return (f"ImageNet weights for model {model_name!r} are not in Keras' cache and FER Bench never downloads: "
            f"put {file_name} (from {origin}) in {folder} (set KERAS_HOME to use another cache), "
            f"or train with weights=none")


def imagenet_arch(model_name: str) -> str | None:
    """The keras.applications base a catalogue model loads ImageNet weights into (None: it has none)."""
    return next((arch for arch in ("mobilenetv2", "mobilenet", "vgg19", "resnet50") if model_name.startswith(arch)), None)


def missing_imagenet_weights(model_name: str, *, input_size: int, alpha: float = 1.0) -> str | None:
    """Why `model_name` could not load its ImageNet weights from this machine's Keras cache; None when it can."""
    arch = imagenet_arch(model_name)
    return None if arch is None else _not_cached(arch, model_name, input_size=input_size, alpha=alpha)


def load_imagenet(base: Any, arch: str, model_name: str, *, input_size: int, alpha: float = 1.0) -> Path:
    """Load the cached ImageNet weights into `base`; a clear ModelError when they are not cached."""
    file_name, origin = imagenet_file_name(arch, input_size=input_size, alpha=alpha)
    path = keras_cache_dir() / file_name
    missing = _not_cached(arch, model_name, input_size=input_size, alpha=alpha)
    if missing:
        raise ModelError(missing)
    try:
        base.load_weights(str(path))
    except Exception as exc:  # a truncated or wrong file: say which one and what to do
        raise ModelError(
            f"ImageNet weights file {path} does not fit model {model_name!r} ({type(exc).__name__}: {exc}); "
            f"replace it with {file_name} from {origin}, or use weights=none"
        ) from None
    return path


def load_weights_file(model: Any, path: Path, model_name: str) -> None:
    suffix = "".join(path.suffixes[-2:])
    if not (suffix in (".weights.h5", ".keras") or path.suffix in (".h5", ".hdf5")):
        raise ModelError(
            f"weights file {path} has an unsupported extension; accepted: .weights.h5, .keras, .h5 or .hdf5"
        )
    try:
        if path.suffix == ".keras":
            import keras

            source = keras.saving.load_model(str(path), compile=False)
            model.set_weights(source.get_weights())
        else:
            model.load_weights(str(path))
    except Exception as exc:
        raise ModelError(
            f"weights file {path} does not fit model {model_name!r} ({type(exc).__name__}: {exc}); "
            f"use weights saved from the same model, hyperparameters and input size"
        ) from None


def imagenet_base(arch: str, *, input_size: int, weights: str, model_name: str, alpha: float = 1.0) -> Any:
    """A keras.applications conv base (no top) named "backbone", with ImageNet weights from the cache if asked."""
    import keras

    from fer_models.models.input_adapter import BN_MOMENTUM
    from fer_models.models.pointwise import without_strided_pointwise

    apps = keras.applications
    shape = (input_size, input_size, 3)
    if arch == "vgg19":
        base = apps.VGG19(include_top=False, weights=None, input_shape=shape, name="backbone")
    elif arch == "resnet50":
        base = apps.ResNet50(include_top=False, weights=None, input_shape=shape, name="backbone")
    elif arch == "mobilenet":
        base = apps.MobileNet(include_top=False, weights=None, input_shape=shape, alpha=alpha, name="backbone")
    elif arch == "mobilenetv2":
        base = apps.MobileNetV2(include_top=False, weights=None, input_shape=shape, alpha=alpha, name="backbone")
    else:
        raise ModelError(f"unknown ImageNet architecture {arch!r}")
    # ResNet50 downsamples with strided 1x1 convolutions, whose oneDNN backward pass crashes (pointwise.py).
    base = without_strided_pointwise(base)
    # Keras' default 0.99 leaves the moving statistics of a base trained for a few hundred steps
    # far from the batch statistics: measured on mobilenet/synthetic, validation stayed at chance
    # (0.13) for 5 epochs while training accuracy reached 0.49; with 0.9 it tracked it (0.48).
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    if weights == "imagenet":
        load_imagenet(base, arch, model_name, input_size=input_size, alpha=alpha)
    return base
