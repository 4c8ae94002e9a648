"""API keys, CORS, security headers, no stack traces, and an API process that never loads TensorFlow."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import redis
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
    url = f"sqlite:///{tmp_path / 'api.db'}"
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from api.main import create_app\n"
        "from ferbench.settings import Settings\n"
        "from ferbench.db.migrate import upgrade\n"
        f"upgrade({url!r})\n"  # GET /datasets lists the uploaded datasets' rows too
        f"c = TestClient(create_app(Settings(home={str(tmp_path)!r}, data_dir={str(tmp_path)!r}, database_url={url!r})))\n"
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


PATH_LIKE = ("../../etc/passwd", "/etc/passwd", "..", "C:\\models\\x.keras", "~/w.weights.h5", "data/../x",
             "file:///tmp/x", "a\x00b")


def _string_fields() -> list[str]:
    """Every string field of a spec, from its JSON schema, nested objects as `outer.inner`."""
    from fer_models.training.spec import ExperimentSpec

    schema = ExperimentSpec.model_json_schema()
    out = []
    for name, prop in schema["properties"].items():
        ref = next((o["$ref"] for o in prop.get("anyOf", []) if "$ref" in o), prop.get("$ref"))
        if ref:
            nested = schema["$defs"][ref.rsplit("/", 1)[-1]]["properties"]
            out += [f"{name}.{inner}" for inner, p in nested.items() if p.get("type") == "string"]
        elif prop.get("type") == "string":
            out.append(name)
    assert {"model", "dataset", "weights", "augmentation"} <= set(out), out
    return out


@pytest.mark.parametrize("field", _string_fields())
def test_no_string_field_accepts_a_path(client: TestClient, broker: redis.Redis, field: str) -> None:
    for value in PATH_LIKE:
        body: dict = {**SPEC}
        if "." in field:
            outer, inner = field.split(".")
            body[outer] = {inner: value}
        else:
            body[field] = value
        answer = client.post("/experiments", json=body)
        assert answer.status_code == 422, (field, value, answer.text)
        assert any(field.split(".")[0] in map(str, p["loc"]) for p in answer.json()["detail"]), answer.text
    assert client.get("/experiments").json()["total"] == 0 and broker.llen("gpu") == 0


@pytest.mark.parametrize(("model", "name"), [("resnet50", "unfreeze_schedule"), ("resnet50", "unfreeze_unit"),
                                             ("cnn-attention", "attention")])
def test_string_hyperparameters_and_hyperparameter_names_reject_paths(client: TestClient, broker: redis.Redis,
                                                                       model: str, name: str) -> None:
    for value in PATH_LIKE:
        for hp in ({name: value}, {value: 1}):
            answer = client.post("/experiments", json={**SPEC, "model": model, "hyperparameters": hp})
            assert answer.status_code == 422, (hp, answer.text)
            assert any("hyperparameters" in map(str, p["loc"]) for p in answer.json()["detail"]), answer.text
    assert broker.llen("gpu") == 0


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(m.upper(), p.replace("{experiment_id}", "0b6f5c1e")) for p, item in paths.items() for m in item]


def test_every_endpoint_refuses_an_oversized_body_with_security_headers(make_client: MakeClient) -> None:
    # POST /datasets and /predict have limits of their own
    client = make_client(max_body_bytes=1000, max_upload_bytes=1000, max_predict_bytes=1000)
    routes = _routes(client) + [("GET", "/openapi.json"), ("GET", "/docs"), ("POST", "/no-such-route")]
    assert len(routes) >= 9
    for method, path in routes:
        declared = client.request(method, path, content=b"{" + b" " * 5000 + b"}",
                                  headers={"Content-Type": "application/json"})
        answers = [declared]
        if (method, path) == ("POST", "/experiments"):  # unread chunked bodies are never held; read ones are cut
            answers.append(client.request(method, path, content=iter([b"x" * 800, b"y" * 800]),
                                          headers={"Content-Type": "application/json"}))
        for answer in answers:
            assert answer.status_code == 413, (method, path, answer.status_code, answer.text)
            assert "1000 bytes" in answer.json()["detail"]
            assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/models", 200), ("GET", "/no-such-route", 404), ("DELETE", "/experiments", 405),
    ("POST", "/experiments", 401), ("GET", "/experiments/nope", 404), ("GET", "/leaderboard?metric=x", 422),
])
def test_security_headers_are_on_every_answer_including_errors(make_client: MakeClient, method: str, path: str,
                                                               status: int) -> None:
    answer = make_client(api_keys="k").request(method, path)
    assert answer.status_code == status, answer.text
    headers = answer.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert "server" not in headers and "x-powered-by" not in headers


def test_cors_preflight_from_an_unlisted_origin_is_refused_and_no_cors_without_a_list(make_client: MakeClient) -> None:
    listed = make_client(cors_origins="https://bench.example.org")
    refused = listed.options("/experiments", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    allowed = listed.options("/experiments", headers={"Origin": "https://bench.example.org",
                                                      "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "X-API-Key, Idempotency-Key"})
    assert allowed.status_code == 200 and "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    closed = make_client()  # no allow-list: no cross-origin access at all
    answer = closed.get("/models", headers={"Origin": "https://bench.example.org"})
    assert "access-control-allow-origin" not in answer.headers


def test_api_keys_are_never_logged_or_returned(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-never-log-me-0c2a7f"
    client = make_client(api_keys=key)
    with caplog.at_level(logging.DEBUG):
        answers = [client.post("/experiments", json=SPEC, headers={"X-API-Key": key}),
                   client.post("/experiments", json={**SPEC, "model": "nope"}, headers={"X-API-Key": key}),
                   client.post("/experiments", json=SPEC, headers={"X-API-Key": key[:-1]}),
                   client.get("/experiments", headers={"X-API-Key": key})]
    assert [a.status_code for a in answers] == [202, 422, 403, 200]
    assert caplog.records  # something was logged at DEBUG, and none of it is the key
    assert key not in caplog.text and key[:-1] not in caplog.text
    assert all(key[:-1] not in a.text and key[:-1] not in str(a.headers) for a in answers)


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Timing tests are flaky on a shared 2-core machine; check that every comparison is
    # hmac.compare_digest and that a match does not stop the loop early.
    import hmac

    from api import deps
    from ferbench.settings import Settings

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(deps.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    deps._check_key(Settings(api_keys="first,second,third"), "first")
    assert [b for _, b in calls] == [b"first", b"second", b"third"]
