"""Images in, faces with their emotions out: detection, crops and one model call for the whole request."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ferbench.serving.faces import Box, FaceDetector, crop_face, whole_image
from ferbench.serving.images import DecodedImage
from ferbench.serving.models import LoadedModel


@dataclass(frozen=True)
class Face:
    box: Box
    emotion: str
    probabilities: dict[str, float]


@dataclass
class ImageResult:
    image: DecodedImage
    faces: list[Face] = field(default_factory=list)


def predict_faces(images: list[DecodedImage], model: LoadedModel, detector: FaceDetector | None) -> list[ImageResult]:
    """Every face of every image in one batch; `detector` None: each image is one already-cropped face."""
    size = model.input_size
    boxes: list[list[Box]] = []
    crops: list[np.ndarray] = []
    for image in images:
        found = [Box(0, 0, image.width, image.height)] if detector is None else detector.detect(image.gray)
        boxes.append(found)
        for box in found:
            crops.append(whole_image(image.gray, size) if detector is None else crop_face(image.gray, box, size))
    probs = model.predict(np.stack(crops)) if crops else np.zeros((0, len(model.class_names)), dtype=np.float32)
    results, row = [], 0
    names = model.class_names
    for image, found in zip(images, boxes):
        faces = []
        for box in found:
            p = probs[row]
            row += 1
            faces.append(Face(box=box, emotion=names[int(np.argmax(p))],
                              probabilities={n: round(float(v), 6) for n, v in zip(names, p)}))
        results.append(ImageResult(image=image, faces=faces))
    return results
