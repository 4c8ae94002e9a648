"""Procedurally drawn faces whose seven expressions differ in geometry, for tests and demos.

Every face is drawn at once for a whole chunk with numpy broadcasting: each image has its own pose
(rotation, shift, scale), lighting and noise, and the expression sets mouth curve/opening/width,
brow tilt/height and eye opening, each jittered per face so that no class is a constant image.
"""

from __future__ import annotations

import numpy as np

from fer_models.data.labels import NUM_CLASSES

# Per class: mouth curve (+ smile), mouth opening, mouth half-width, brow tilt (+ inner ends down,
# i.e. frown), brow raise, eye opening. Order = labels.EMOTIONS.
_EXPRESSIONS = np.array(
    [
        # curve, open, width, tilt, raise, eye
        [-0.35, 0.00, 0.30, 0.55, -0.04, 0.55],  # angry: frown, brows pulled down inwards, narrowed eyes
        [-0.70, 0.35, 0.34, 0.20, -0.06, 0.30],  # disgust: curled open mouth, squint
        [-0.30, 0.55, 0.26, -0.45, 0.10, 1.35],  # fear: open tense mouth, brows up inwards, wide eyes
        [0.90, 0.25, 0.36, 0.00, 0.00, 0.85],  # happy: broad smile
        [-0.90, 0.00, 0.28, -0.50, 0.02, 0.75],  # sad: strong frown, inner brows up
        [0.00, 1.00, 0.16, 0.00, 0.16, 1.45],  # surprise: round open mouth, brows high, eyes wide
        [0.00, 0.00, 0.28, 0.00, 0.00, 1.00],  # neutral
    ],
    dtype=np.float32,
)
_JITTER = np.array([0.12, 0.08, 0.03, 0.10, 0.025, 0.12], dtype=np.float32)

_CHUNK = 1024


def _soft(distance: np.ndarray, pixel: float) -> np.ndarray:
    """Anti-aliased inside mask from a signed distance (negative inside), one pixel of ramp."""
    return np.clip(0.5 - distance / pixel, 0.0, 1.0)


def _draw(labels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    n = labels.shape[0]
    shape = (n, 1, 1)

    def u(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, shape).astype(np.float32)

    params = _EXPRESSIONS[labels] + rng.normal(0.0, 1.0, (n, 6)).astype(np.float32) * _JITTER
    curve, opening, width, tilt, raise_, eye = (params[:, i].reshape(shape) for i in range(6))
    opening = np.maximum(opening, 0.0)
    eye = np.maximum(eye, 0.15)

    angle = u(-0.26, 0.26)  # about +-15 degrees
    scale = u(0.85, 1.1)
    tx, ty = u(-0.1, 0.1), u(-0.1, 0.1)
    background, skin, ink = u(0.05, 0.45), u(0.55, 0.9), u(0.0, 0.2)
    noise_sigma = u(0.01, 0.06)

    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    x = grid.reshape(1, 1, size)
    y = grid.reshape(1, size, 1)
    cos, sin = np.cos(angle), np.sin(angle)
    # Face coordinates of every pixel: the inverse of the face's pose.
    fu = (cos * (x - tx) + sin * (y - ty)) / scale
    fv = (-sin * (x - tx) + cos * (y - ty)) / scale
    pixel = 2.0 / size / scale

    face = _soft(np.sqrt((fu / 0.72) ** 2 + (fv / 0.9) ** 2) - 1.0, pixel * 1.5 / 0.8)
    image = background + (skin - background) * face

    features = np.zeros_like(fu)
    au = np.abs(fu)
    # Eyes: ellipses whose height follows the eye opening.
    eye_ry = 0.075 * eye
    eyes = _soft((np.sqrt(((au - 0.3) / 0.12) ** 2 + ((fv + 0.18) / eye_ry) ** 2) - 1.0) * np.minimum(eye_ry, 0.12), pixel)
    features = np.maximum(features, eyes)
    # Brows: thick segments; tilt lowers (frown) or raises (worry) their inner ends.
    brow_centre = -0.42 - raise_ + tilt * (0.3 - au) * 0.5
    brow = _soft(np.abs(fv - brow_centre) - 0.035, pixel) * _soft(np.abs(au - 0.3) - 0.17, pixel)
    features = np.maximum(features, brow)
    # Mouth: a curved line that thickens into an open mouth; + curve puts the middle below the corners.
    t = np.clip(fu / width, -1.0, 1.0)
    bulge = 1.0 - t**2
    centre = 0.45 + curve * 0.14 * bulge
    half_thickness = 0.03 + opening * 0.13 * np.sqrt(bulge)
    mouth = _soft(np.abs(fv - centre) - half_thickness, pixel) * _soft(au - width, pixel)
    features = np.maximum(features, mouth)
    # Nose: a short vertical stroke, the same for every class (a distractor).
    nose = _soft(np.abs(fu) - 0.025, pixel) * _soft(np.abs(fv - 0.12) - 0.1, pixel) * 0.5
    features = np.maximum(features, nose)

    image = image + (ink - image) * features * face
    image = image + rng.normal(0.0, 1.0, image.shape).astype(np.float32) * noise_sigma
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def generate_faces(n: int, *, seed: int = 0, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """`n` faces as uint8 (n, size, size) and their int64 labels: balanced classes, deterministic by seed."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n, dtype=np.int64) % NUM_CLASSES)
    images = np.empty((n, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        images[start:stop] = _draw(labels[start:stop], rng, size)
    return images, labels
