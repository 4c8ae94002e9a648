"""Find faces (OpenCV's Haar cascade, bundled in the opencv-python-headless wheel: nothing is downloaded)
and cut them out the way training images were made.

Detection runs on a copy scaled down so its shorter side is at most DETECT_SIDE pixels: the cascade's
cost grows with the pixel count and the number of scales it tries (about 9 ms instead of 60 ms for a
640x480 photo on this project's 2-core machine). The price: a face narrower than about 12% of the
photo's shorter side (the cascade's 24-pixel window at that scale) is not found. Boxes are mapped back
to the original image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"
DETECT_SIDE = 200
SCALE_FACTOR = 1.2
MIN_NEIGHBOURS = 4
MIN_FACE_FRACTION = 0.12


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int


class FaceDetector:
    """One cascade per thread (OpenCV's CascadeClassifier is not safe to share across threads)."""

    def __init__(self) -> None:
        import cv2

        self._path = str(cv2.data.haarcascades + CASCADE_FILE)
        self._local = threading.local()
        self._cascade()  # fail at start, not on the first request, if the wheel lacks its cascade

    def _cascade(self):  # noqa: ANN202 - cv2.CascadeClassifier
        import cv2

        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            cascade = cv2.CascadeClassifier(self._path)
            if cascade.empty():
                raise RuntimeError(f"OpenCV could not load its bundled face cascade {self._path}")
            self._local.cascade = cascade
        return cascade

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in a uint8 (H, W) image, largest first."""
        import cv2

        height, width = gray.shape
        scale = min(1.0, DETECT_SIDE / min(height, width))
        small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                                                    interpolation=cv2.INTER_AREA)
        min_side = max(12, int(min(small.shape) * MIN_FACE_FRACTION))
        found = self._cascade().detectMultiScale(small, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBOURS,
                                                 minSize=(min_side, min_side))
        boxes = []
        for x, y, w, h in (found if len(found) else []):
            left, top = int(round(x / scale)), int(round(y / scale))
            side = int(round(w / scale))
            side = min(side, width - left, height - top)
            boxes.append(Box(left, top, side, side))
        return sorted(boxes, key=lambda b: -b.width * b.height)


def crop_face(gray: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The box cut out and made `size` x `size` as training made its images (image_reader.to_gray48:
    Pillow's bilinear resize with reducing_gap 2), so a face is classified as the model saw faces."""
    crop = gray[box.y:box.y + box.height, box.x:box.x + box.width]
    return whole_image(crop, size)


def whole_image(gray: np.ndarray, size: int) -> np.ndarray:
    """An already-cropped face: centre square, resized like training (to_gray48)."""
    from PIL import Image

    height, width = gray.shape
    if (height, width) == (size, size):
        return gray
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.ascontiguousarray(gray[top:top + side, left:left + side]))
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)
