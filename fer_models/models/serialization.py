"""The zoo's custom Keras classes in one place, so a saved model reloads in a process that built none.

Keras finds a custom class at load time only if its module was imported (the decorator registers it);
a process that only loads a logged model (`ferbench evaluate`, MLflow's pyfunc loader) imports none
of the builders. Importing this module registers every one of them.
"""

from __future__ import annotations

from typing import Any

import keras

from fer_models.models.input_adapter import InputAdapter
from fer_models.models.layers import CBAM, AttentionPooling, SqueezeExcitation
from fer_models.models.pointwise import SubsampledPointwiseConv2D

CUSTOM_CLASSES: tuple[type, ...] = (InputAdapter, SqueezeExcitation, CBAM, AttentionPooling,
                                    SubsampledPointwiseConv2D)


def custom_objects() -> dict[str, Any]:
    """Registered name -> class, for `keras.saving.load_model(custom_objects=...)`."""
    return {keras.saving.get_registered_name(cls): cls for cls in CUSTOM_CLASSES}
