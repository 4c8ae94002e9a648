"""Promote -> predict end to end through `ferbench up`: train a tiny model through the API, promote it to
`champion` with the CLI, then find and classify the faces of a photo with `ferbench predict`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fer_models.data.synthetic import generate_faces
from ferbench.services.ports import free_port
from ferbench.testing.face_folders import write_face_folders
from tests.ferbench.test_stack import ROOT, kill_tree, run_json

pytestmark = [pytest.mark.services, pytest.mark.slow]
PLACES = [(60, 80), (380, 200)]


def test_promote_then_predict_through_ferbench_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FERBENCH_BROKER_URL", "MLFLOW_TRACKING_URI",
                                                            "FERBENCH_DATABASE_URL", "FERBENCH_SERVE_URL")}
    api_port = free_port()
    env.update(FERBENCH_HOME=str(tmp_path / "home"), FERBENCH_DATA_DIR=str(tmp_path / "data"),
               FERBENCH_API_PORT=str(api_port), FERBENCH_MLFLOW_PORT=str(free_port()),
               FERBENCH_SERVE_PORT=str(free_port()), CUDA_VISIBLE_DEVICES="")
    write_face_folders(tmp_path / "data", "faces", n=140)
    faces, _ = generate_faces(len(PLACES), seed=5, size=150)
    photo = np.full((480, 640), 150, np.uint8)
    for (x, y), face in zip(PLACES, faces):
        photo[y:y + 150, x:x + 150] = face
    Image.fromarray(photo).save(tmp_path / "group.png")
    up = subprocess.Popen([sys.executable, "-m", "ferbench.cli.main", "up"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    api = f"http://127.0.0.1:{api_port}"
    cli = [sys.executable, "-m", "ferbench.cli.main"]
    try:
        assert up.stdout is not None
        printed = []
        for line in up.stdout:
            printed.append(line)
            if line.startswith("Predictions:"):
                break
        assert up.poll() is None, "".join(printed)
        assert f"{api}/predict" in printed[-1]

        (exp,) = run_json(cli + ["submit", "--model", "cnn-small", "--dataset", "faces", "--epochs", "1", "--wait",
                                 "--json", "--api-url", api], env)
        assert exp["status"] == "succeeded", exp.get("error")
        version = run_json(cli + ["promote", exp["id"], "--json", "--api-url", api], env)
        assert version["aliases"] == ["champion"] and version["tags"]["experiment_id"] == exp["id"]
        assert float(version["tags"]["test_accuracy"]) == pytest.approx(exp["metrics"]["accuracy"], abs=1e-6)

        answer = run_json(cli + ["predict", str(tmp_path / "group.png"), "--json", "--api-url", api], env)
        assert answer["model"]["experiment_id"] == exp["id"] and answer["model"]["reference"] == "champion"
        found = answer["images"][0]["faces"]
        assert len(found) == len(PLACES)
        for x, y in PLACES:
            assert any(abs(f["box"]["x"] - x) < 25 and abs(f["box"]["y"] - y) < 25 for f in found), found
        drawn = subprocess.run(cli + ["predict", str(tmp_path / "group.png"), "--annotate", str(tmp_path / "out.png"),
                                      "--api-url", api], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert drawn.returncode == 0, drawn.stderr
        assert Image.open(tmp_path / "out.png").size == (640, 480) and "2 face(s)" in drawn.stdout

        refused = subprocess.run(cli + ["promote", "no-such-id", "--api-url", api], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "404" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        registry = httpx.get(f"{api}/registry", timeout=30).json()
        assert registry["models"][0]["aliases"] == {"champion": version["version"]}
        up.send_signal(signal.SIGINT)
        assert up.wait(90) == 0
    finally:
        kill_tree(up)
