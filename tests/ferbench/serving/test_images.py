"""Decoding uploads: the grey-PNG fast path gives exactly the general path's pixels, and leaves every
case it does not handle (animation, transparency, damage, other kinds) to the general path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ferbench.serving.images import BadImage, _plain_gray_png, decode_image


def _encode(image: Image.Image, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **kwargs)
    return buffer.getvalue()


def test_the_grey_png_fast_path_decodes_exactly_as_pillow() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    data = _encode(Image.fromarray(pixels))
    assert np.array_equal(_plain_gray_png(data, 10**6), pixels)
    assert np.array_equal(decode_image(data, "a.png", max_pixels=10**6).gray, pixels)


@pytest.mark.parametrize("kind", ["rgb", "transparent", "animated", "truncated", "too large"])
def test_the_fast_path_declines_what_the_general_path_must_handle(kind: str) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (20, 20), dtype=np.uint8)  # never 255 ...
    noise[noise == 100] = 101
    noise[0, 0] = 100  # ... and 100 only here: the transparent grey
    grey = Image.fromarray(noise)
    data = {
        "rgb": lambda: _encode(grey.convert("RGB")),
        "transparent": lambda: _encode(grey, transparency=100),
        "animated": lambda: _encode(grey, save_all=True, append_images=[Image.new("L", (20, 20))]),
        "truncated": lambda: _encode(grey)[:250],
        "too large": lambda: _encode(grey),
    }[kind]()
    assert _plain_gray_png(data, 399 if kind == "too large" else 10**6) is None
    if kind == "transparent":  # flattened over white as training does: the transparent grey becomes 255
        decoded = decode_image(data, "t.png", max_pixels=10**6).gray
        assert decoded[0, 0] == 255 and decoded.max() == 255 and (decoded == 255).sum() == 1
    if kind in ("truncated", "too large"):
        with pytest.raises(BadImage):
            decode_image(data, "x.png", max_pixels=399 if kind == "too large" else 10**6)
