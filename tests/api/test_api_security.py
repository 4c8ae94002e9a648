"""API keys, CORS, security headers, no stack traces, and an API process that never loads TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.routers.leaderboard import Metric
from ferbench.db.models import METRICS
from tests.api.conftest import MakeClient

SPEC = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}


def test_write_endpoints_need_a_valid_key_and_reads_stay_open(make_client: MakeClient) -> None:
    client = make_client(api_keys="k-one, s3cret-two")
    missing = client.post("/experiments", json=SPEC)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    wrong = client.post("/experiments", json=SPEC, headers={"X-API-Key": "s3cret-twoo"})
    assert wrong.status_code == 403 and "s3cret" not in wrong.text
    ok = client.post("/experiments", json=SPEC, headers={"X-API-Key": "s3cret-two"})
    assert ok.status_code == 202
    exp_id = ok.json()["id"]
    assert client.post(f"/experiments/{exp_id}/cancel").status_code == 401
    assert client.post(f"/experiments/{exp_id}/cancel", headers={"X-API-Key": "k-one"}).status_code == 202
    for path in ("/models", "/experiments", f"/experiments/{exp_id}", "/leaderboard"):
        assert client.get(path).status_code == 200, path


def test_reads_can_be_closed_by_a_setting(make_client: MakeClient) -> None:
    client = make_client(api_keys="k", read_requires_key=True)
    assert client.get("/experiments").status_code == 401
    assert client.get("/leaderboard", headers={"X-API-Key": "k"}).status_code == 200


def test_cors_allows_only_listed_origins_and_security_headers_are_set(make_client: MakeClient) -> None:
    client = make_client(cors_origins="https://bench.example.org")
    allowed = client.options("/experiments", headers={"Origin": "https://bench.example.org",
                                                      "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == "https://bench.example.org"
    other = client.get("/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["x-content-type-options"] == "nosniff" and other.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in other.headers["content-security-policy"]
    assert client.get("/docs").status_code == 200 and "swagger" in client.get("/docs").text.lower()


def test_a_database_outage_is_503_without_a_trace(make_client: MakeClient) -> None:
    client = make_client(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    for answer in (client.get("/experiments"), client.post("/experiments", json=SPEC), client.get("/leaderboard")):
        assert answer.status_code == 503, answer.text
        assert "database" in answer.json()["detail"] and "Traceback" not in answer.text and "psycopg" not in answer.text


def test_leaderboard_metric_names_are_the_design_names() -> None:
    assert Metric.__args__ == METRICS  # type: ignore[attr-defined]


def test_the_api_validates_specs_without_importing_tensorflow_or_keras(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from api.main import create_app\n"
        "from ferbench.settings import Settings\n"
        f"c = TestClient(create_app(Settings(home={str(tmp_path)!r}, data_dir={str(tmp_path)!r}, database_url='sqlite://')))\n"
        "assert c.get('/models').status_code == 200\n"
        "assert c.get('/datasets').status_code == 200\n"
        "r = c.post('/experiments', json={'model': 'vgg19', 'hyperparameters': {'dropout': 7}})\n"
        "assert r.status_code == 422, r.text\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/models", "/datasets", "/experiments", "/experiments/{experiment_id}",
            "/experiments/{experiment_id}/cancel", "/leaderboard"} <= set(paths)
    body = paths["/experiments"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "repeats" in body["oneOf"][0]["properties"]
