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
    # Vectorised: per-face Python work is what a 256-face request spends besides the model.
    rows = np.round(probs.astype(np.float64), 6).tolist()
    best = np.argmax(probs, axis=1).tolist() if len(crops) else []
    names = model.class_names
    results, row = [], 0
    for image, found in zip(images, boxes):
        faces = [Face(box=box, emotion=names[best[row + i]], probabilities=dict(zip(names, rows[row + i])))
                 for i, box in enumerate(found)]
        row += len(found)
        results.append(ImageResult(image=image, faces=faces))
    return results
