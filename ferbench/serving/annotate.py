"""An image with its faces boxed and labelled, as PNG bytes."""

from __future__ import annotations

import numpy as np

from ferbench.serving.predict import ImageResult

_BOX_RGB = (255, 64, 64)


def annotated_png(result: ImageResult) -> bytes:
    import cv2

    image = result.image
    canvas = image.rgb if image.rgb is not None else np.repeat(image.gray[..., None], 3, axis=2)
    canvas = np.ascontiguousarray(canvas[..., ::-1])  # OpenCV draws and encodes in BGR
    thickness = max(1, min(image.width, image.height) // 200)
    bgr = _BOX_RGB[::-1]
    for face in result.faces:
        b = face.box
        cv2.rectangle(canvas, (b.x, b.y), (b.x + b.width, b.y + b.height), bgr, thickness)
        label = f"{face.emotion} {face.probabilities[face.emotion]:.0%}"
        scale = max(0.4, b.width / 250)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(0, b.y - th - base - 2)
        cv2.rectangle(canvas, (b.x, top), (b.x + tw + 2, top + th + base + 2), bgr, -1)
        cv2.putText(canvas, label, (b.x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".png", canvas)
    if not ok:
        raise RuntimeError("OpenCV could not encode the annotated image as PNG")
    return encoded.tobytes()
