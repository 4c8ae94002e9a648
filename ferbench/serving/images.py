"""Uploaded bytes to a grayscale array, refusing what is not a whole, reasonably sized still image.

The size is read from the header and checked before any pixel is decoded (a decompression bomb is a
small file that claims a huge image). An animation is read at its first frame, and the answer says so.
A JPEG is decoded straight to gray (libjpeg skips the colour conversion), the fast path for photos.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from fer_models.errors import FerBenchError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow names a JPEG with extra frames (phone cameras' depth maps) MPO: it is a JPEG all the same.
_FORMAT_ALIASES = {"MPO": "JPEG"}


class BadImage(FerBenchError):
    """An upload that is not an accepted image; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DecodedImage:
    filename: str | None
    gray: np.ndarray  # uint8 (H, W)
    rgb: np.ndarray | None  # uint8 (H, W, 3), only when asked for (drawing the annotated answer)
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.gray.shape[1])

    @property
    def height(self) -> int:
        return int(self.gray.shape[0])


def _flatten_alpha(image: Image.Image) -> Image.Image:
    # As training decodes (fer_models.data.image_reader.to_gray48): transparency over white.
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba)


def _plain_gray_png(data: bytes, max_pixels: int) -> np.ndarray | None:
    """The pixels of an 8-bit grayscale, still, opaque PNG (what cropped faces usually are), decoded by
    OpenCV at a fraction of Pillow's per-image cost; None for anything else (the general path decides).

    Lossless, so the pixels are exactly Pillow's. The header is read by hand: size and kind first.
    """
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    bit_depth, colour_type, interlace = data[24], data[25], data[28]
    if (bit_depth, colour_type, interlace) != (8, 0, 0) or width * height > max_pixels:
        return None
    first_image = data.find(b"IDAT")
    if first_image < 0 or data.find(b"acTL", 0, first_image) >= 0 or data.find(b"tRNS", 0, first_image) >= 0:
        return None  # animated or with a transparent grey: the general path notes or flattens it
    import cv2

    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.shape != (height, width) or pixels.dtype != np.uint8:
        return None  # truncated or odd: the general path says what is wrong
    return pixels


def decode_image(data: bytes, filename: str | None, *, max_pixels: int, want_rgb: bool = False) -> DecodedImage:
    """Decode one upload; BadImage names the file, what was wrong and what is accepted."""
    name = filename or "upload"
    accepted = ", ".join(ACCEPTED_FORMATS)
    if not data:
        raise BadImage(f"{name}: empty file; send a {accepted} image")
    if not want_rgb:
        gray = _plain_gray_png(data, max_pixels)
        if gray is not None:
            return DecodedImage(filename=filename, gray=gray, rgb=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd metadata; the checks below decide
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise BadImage(f"{name}: the image claims more pixels than the limit of {max_pixels:,} "
                       "(FERBENCH_MAX_IMAGE_PIXELS); send a smaller image", status=413) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadImage(f"{name}: not an image in a format this service reads; accepted formats: {accepted}") from None
    fmt = _FORMAT_ALIASES.get(image.format or "", image.format or "unknown")
    if fmt not in ACCEPTED_FORMATS:
        raise BadImage(f"{name}: {fmt} images are not accepted; accepted formats: {accepted}", status=415)
    width, height = image.size
    if width * height > max_pixels:
        raise BadImage(f"{name}: {width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,} "
                       "(FERBENCH_MAX_IMAGE_PIXELS); send a smaller image", status=413)
    notes: list[str] = []
    frames = int(getattr(image, "n_frames", 1) or 1)
    if frames > 1:
        notes.append(f"animated image with {frames} frames: only the first frame was read")
        image.seek(0)
    try:
        if fmt == "JPEG" and not want_rgb and image.mode in ("RGB", "YCbCr", "L"):
            image.draft("L", image.size)  # decode straight to gray, at full size
        image.load()
        if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
            image = _flatten_alpha(image)
        gray_image = image if image.mode == "L" else image.convert("L")
        gray = np.asarray(gray_image, dtype=np.uint8)
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8) if want_rgb else None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise BadImage(f"{name}: the {fmt} data is truncated or damaged; send the whole file") from None
    if gray.ndim != 2 or gray.size == 0:
        raise BadImage(f"{name}: the image has no pixels")
    return DecodedImage(filename=filename, gray=gray, rgb=rgb, notes=notes)
