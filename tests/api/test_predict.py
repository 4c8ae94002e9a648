"""POST /predict in the API: forwarded to a real `ferbench serve` process, size-limited, TensorFlow-free."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fer_models.data.synthetic import generate_faces
from ferbench.testing.live_serve import live_serve
from ferbench.testing.registered_models import build_model, register_model
from tests.api.conftest import MakeClient

ROOT = Path(__file__).resolve().parents[2]
NAME = "fer-api-predict"


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_predict_is_forwarded_to_the_serving_process(make_client: MakeClient, mlflow_server: Any,
                                                     tmp_path: Path) -> None:
    register_model(mlflow_server.url, build_model("cnn-small", 0), name=NAME, alias="champion", experiment_id="e-api")
    faces, _ = generate_faces(1, seed=5, size=150)
    photo = np.full((480, 640), 150, np.uint8)
    photo[100:250, 200:350] = faces[0]
    with live_serve(home=tmp_path, tracking_uri=mlflow_server.url) as serve:
        client = make_client(mlflow_tracking_uri=mlflow_server.url, serve_url=serve.url, max_predict_bytes=100_000)
        answer = client.post("/predict", params={"name": NAME}, files={"image": ("p.png", _png(photo))})
        assert answer.status_code == 200, answer.text
        (face,) = answer.json()["images"][0]["faces"]
        assert abs(face["box"]["x"] - 200) < 25 and abs(face["box"]["y"] - 100) < 25
        drawn = client.post("/predict", params={"name": NAME, "annotate": "true"}, files={"image": ("p.png", _png(photo))})
        assert drawn.headers["content-type"] == "image/png" and drawn.content.startswith(b"\x89PNG")
        unknown = client.post("/predict", params={"name": NAME, "model": "gone"}, files={"image": ("p.png", _png(photo))})
        assert unknown.status_code == 404 and "aliases: champion" in unknown.json()["detail"]
        too_big = client.post("/predict", params={"name": NAME}, files={"image": ("big.bmp", b"B" * 150_000)})
        assert too_big.status_code == 413 and "at most 100000 bytes" in too_big.json()["detail"]
        # The API's own limit for other bodies is unchanged.
        assert client.post("/experiments", content=b"x" * 1_100_000).status_code == 413
    gone = client.post("/predict", files={"image": ("p.png", _png(photo))})
    assert gone.status_code == 503 and "ferbench serve" in gone.json()["detail"]


def test_the_api_with_its_prediction_routes_imports_no_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from api.main import create_app\n"
        "from ferbench.settings import Settings\n"
        "client = TestClient(create_app(Settings(serve_url='http://127.0.0.1:9', mlflow_tracking_uri='http://127.0.0.1:9')))\n"
        "assert client.post('/predict', files={'image': ('a.png', b'x')}).status_code == 503\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'jax', 'cv2', 'torch'}))\n"
    )
    env = {**os.environ, "FERBENCH_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
