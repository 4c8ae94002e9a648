"""The serving process's app on a real MLflow registry: faces found where they were put and classified as
the model classifies their crops, aliases followed while requests go on, and bad input answered, never fatal."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from fer_models.data.synthetic import generate_faces
from ferbench.serving.app import create_serve_app
from ferbench.serving.faces import crop_face
from ferbench.settings import Settings
from ferbench.testing.registered_models import build_model, register_model

NAME = "fer-serving-test"
FACE = 150
PLACES = [(40, 60), (240, 200), (440, 40)]  # (x, y) of each face's top-left corner on a 640x480 photo


def encode(pixels: np.ndarray, fmt: str = "PNG", **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def champion(mlflow_server: Any) -> Any:
    model = build_model("cnn-small", 0)
    register_model(mlflow_server.url, model, name=NAME, alias="champion", experiment_id="exp-1")
    return model


@pytest.fixture
def serve(mlflow_server: Any, champion: Any) -> Iterator[TestClient]:
    settings = Settings(mlflow_tracking_uri=mlflow_server.url, serve_refresh_s=0.3, max_predict_bytes=2_000_000,
                        max_image_pixels=1_000_000)
    with TestClient(create_serve_app(settings), raise_server_exceptions=False) as client:
        yield client


def post(client: TestClient, files: list[tuple[str, bytes]], **params: str) -> Any:
    return client.post("/predict", params={"name": NAME, **params}, files=[("image", f) for f in files])


def photo() -> np.ndarray:
    faces, _ = generate_faces(len(PLACES), seed=5, size=FACE)
    canvas = np.full((480, 640), 150, np.uint8)
    for (x, y), face in zip(PLACES, faces):
        canvas[y:y + FACE, x:x + FACE] = face
    return canvas


def test_every_face_is_found_where_it_was_put_and_classified_as_its_crop(serve: TestClient, champion: Any) -> None:
    pixels = photo()
    answer = post(serve, [("group.png", encode(pixels))])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"name": NAME, "version": "1", "reference": "champion", "experiment_id": "exp-1"}
    (image,) = body["images"]
    assert (image["width"], image["height"], image["notes"]) == (640, 480, [])
    assert len(image["faces"]) == len(PLACES)
    for x, y in PLACES:
        (face,) = [f for f in image["faces"] if abs(f["box"]["x"] - x) < 25 and abs(f["box"]["y"] - y) < 25]
        box = face["box"]
        assert abs(box["width"] - FACE) < 0.2 * FACE and box["width"] == box["height"]
        crop = crop_face(pixels, _box(box), 48)
        expected = champion.predict(crop[np.newaxis, ..., np.newaxis].astype(np.float32), verbose=0)[0]
        got = np.array(list(face["probabilities"].values()))
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert face["emotion"] == list(face["probabilities"])[int(np.argmax(expected))]
        assert len(face["probabilities"]) == 7


def _box(box: dict[str, int]) -> Any:
    from ferbench.serving.faces import Box

    return Box(box["x"], box["y"], box["width"], box["height"])


def test_cropped_faces_and_an_annotated_png(serve: TestClient, champion: Any) -> None:
    faces, _ = generate_faces(3, seed=2, size=48)
    answer = post(serve, [(f"{i}.png", encode(f)) for i, f in enumerate(faces)], faces="cropped")
    assert answer.status_code == 200, answer.text
    expected = champion.predict(faces[..., np.newaxis].astype(np.float32), verbose=0)
    for image, probs in zip(answer.json()["images"], expected):
        (face,) = image["faces"]
        assert face["box"] == {"x": 0, "y": 0, "width": 48, "height": 48}
        np.testing.assert_allclose(list(face["probabilities"].values()), probs, atol=1e-5)
    drawn = post(serve, [("group.jpg", encode(np.stack([photo()] * 3, axis=-1), "JPEG"))], annotate="true")
    assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    assert drawn.headers["x-faces"] == str(len(PLACES))
    assert Image.open(io.BytesIO(drawn.content)).size == (640, 480)


def test_bad_input_is_answered_and_the_process_carries_on(serve: TestClient) -> None:
    good = encode(photo())
    big = encode(np.zeros((1200, 1200), np.uint8))  # 1.44 Mpx over the 1 Mpx limit, a few kB of PNG
    cases = {
        "not an image": ([("notes.png", b"these are not pixels")], {}, 422, "not an image"),
        "truncated": ([("cut.png", good[: len(good) // 2])], {}, 422, "truncated"),
        "too many pixels": ([("bomb.png", big)], {}, 413, "1,440,000 pixels"),
        "unaccepted format": ([("anim.gif", encode(np.zeros((8, 8), np.uint8), "GIF"))], {}, 415, "GIF"),
        "unknown alias": ([("a.png", good)], {"model": "nope"}, 404, "aliases: champion"),
        "bad faces mode": ([("a.png", good)], {"faces": "some"}, 422, "detect or cropped"),
        "body too large": ([("huge.bmp", b"B" * 2_100_000)], {}, 413, "at most 2000000 bytes"),
    }
    for what, (files, params, status, words) in cases.items():
        answer = post(serve, files, **params)
        assert answer.status_code == status, (what, answer.text)
        assert words in answer.json()["detail"], (what, answer.json())
    # An unknown registered model names the models that exist.
    for name in ("no-such-model", "x/y"):
        answer = serve.post("/predict", params={"name": name}, files=[("image", ("a.png", good))])
        assert answer.status_code == 404, (name, answer.text)
        assert NAME in answer.json()["detail"], answer.json()
    empty = post(serve, [("wall.png", encode(np.full((240, 320), 90, np.uint8)))])
    assert empty.status_code == 200 and empty.json()["images"][0]["faces"] == []
    frames = [Image.fromarray(photo()), Image.fromarray(np.zeros((480, 640), np.uint8))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    animated = post(serve, [("anim.png", buffer.getvalue())]).json()["images"][0]
    assert "only the first frame" in animated["notes"][0] and len(animated["faces"]) == len(PLACES)
    assert post(serve, [("a.png", good)]).status_code == 200  # still serving


def test_a_moved_alias_is_picked_up_with_no_failed_request(serve: TestClient, mlflow_server: Any) -> None:
    image = encode(photo())
    assert post(serve, [("a.png", image)]).json()["model"]["version"] == "1"
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            answer = post(serve, [("a.png", image)])
            seen.append((answer.status_code, answer.json().get("model", {}).get("version")))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        register_model(mlflow_server.url, build_model("cnn-small", 1), name=NAME, alias="champion",
                       experiment_id="exp-2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(v == "2" for _, v in seen):
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert all(status == 200 for status, _ in seen), seen
    assert seen[-1][1] == "2" and seen[0][1] == "1"
    assert post(serve, [("a.png", image)], model="1").json()["model"]["version"] == "1"
    assert post(serve, [("a.png", image)], model="exp-2").json()["model"]["version"] == "2"
