"""POST/GET /experiments and cancel, through the HTTP stack, with a real Redis broker."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ferbench.db import lifecycle, outbox
from ferbench.db.session import make_session_factory
from ferbench.settings import Settings
from tests.api.conftest import MakeClient, queued_task_ids

SPEC = {"model": "cnn-small", "dataset": "synthetic", "epochs": 2, "batch_size": 16}


def db_session(url: str) -> Session:
    return make_session_factory(url)()


def test_one_spec_is_stored_and_its_message_is_in_the_gpu_queue(client: TestClient, broker: redis.Redis) -> None:
    answer = client.post("/experiments", json={**SPEC, "seed": 3})
    assert answer.status_code == 202, answer.text
    exp = answer.json()
    assert exp["status"] == "queued" and exp["attempts"] == 0 and exp["seed"] == 3 and exp["family"] == "cnn"
    assert exp["spec"]["hyperparameters"]["filters"] == 32  # the model's defaults are filled in
    assert queued_task_ids(broker) == [exp["id"]]
    shown = client.get(f"/experiments/{exp['id']}").json()
    assert shown["status"] == "queued" and shown["spec"] == exp["spec"] and shown["metrics"] is None


def test_a_recipe_is_stored_resolved_with_the_bodys_overrides(client: TestClient, broker: redis.Redis) -> None:
    answer = client.post("/experiments", json={"recipe": "writeup-cnn-small", "dataset": "synthetic", "epochs": 2})
    assert answer.status_code == 202, answer.text
    spec = answer.json()["spec"]
    # The recipe's settings, the body's override, and the model's defaults: what the worker runs.
    assert (spec["recipe"], spec["model"], spec["epochs"], spec["batch_size"], spec["augmentation"]) == (
        "writeup-cnn-small", "cnn-small", 2, 64, "standard")
    assert spec["hyperparameters"]["filters"] == 32


@pytest.mark.parametrize(
    ("body", "loc", "says"),
    [({"recipe": "writeup-vgg", "dataset": "synthetic"}, ["body", "recipe"], "Did you mean 'writeup-vgg19'"),
     ({"recipe": "writeup-cnn-small", "hyperparameters": {"alpha": 0.5}}, ["body", "hyperparameters", "alpha"],
      "accepted: filters"),
     ({"recipe": "../etc", "dataset": "synthetic"}, ["body", "recipe"], "GET /recipes")],
)
def test_a_bad_recipe_or_override_is_422_at_its_field(client: TestClient, broker: redis.Redis, body: dict,
                                                      loc: list, says: str) -> None:
    answer = client.post("/experiments", json=body)
    assert answer.status_code == 422, answer.text
    hit = [p for p in answer.json()["detail"] if p["loc"] == loc]
    assert hit and says in hit[0]["msg"], answer.json()
    assert queued_task_ids(broker) == []


def test_timestamps_are_utc_with_their_offset(client: TestClient, db_url: str) -> None:
    created = client.post("/experiments", json=SPEC).json()
    session = db_session(db_url)
    assert lifecycle.claim_experiment(session, created["id"], worker="w1") is not None
    session.close()
    for body in (client.get(f"/experiments/{created['id']}").json(), client.get("/experiments").json()["items"][0]):
        stamps = [body[k] for k in ("created_at", "started_at", "heartbeat_at")]
        for stamp in stamps:
            assert stamp.endswith(("Z", "+00:00")), stamp
            assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)


def test_a_list_with_repeats_runs_each_spec_with_consecutive_seeds(client: TestClient, broker: redis.Redis) -> None:
    answer = client.post("/experiments", json=[{**SPEC, "seed": 10, "repeats": 3}, {**SPEC, "epochs": 1}])
    assert answer.status_code == 202, answer.text
    batch = answer.json()
    assert [e["seed"] for e in batch] == [10, 11, 12, 0]
    assert len({e["spec_key"] for e in batch[:3]}) == 1 and batch[3]["spec_key"] != batch[0]["spec_key"]
    assert len({e["group_id"] for e in batch}) == 1
    assert queued_task_ids(broker) == [e["id"] for e in batch]
    single_with_repeats = client.post("/experiments", json={**SPEC, "repeats": 2}).json()
    assert isinstance(single_with_repeats, list) and len(single_with_repeats) == 2


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({**SPEC, "model": "resnet-9000"}, "model", "cnn-small"),  # lists what exists
        ({**SPEC, "dataset": "affectnet"}, "dataset", "available: synthetic"),
        ({**SPEC, "hyperparameters": {"dropout": 1.5}}, "hyperparameters", "[0, 0.9]"),
        ({**SPEC, "hyperparameters": {"filterz": 8}}, "hyperparameters", "accepted: filters"),
        ({**SPEC, "epochs": 6}, "epochs", "from 1 to 5"),  # the server's cap (5 in these tests)
        ({**SPEC, "batch_size": 65}, "batch_size", "from 1 to 64"),
        ({**SPEC, "epochs": 0}, "epochs", "from 1 to"),
        ({**SPEC, "dataset": "../../etc"}, "dataset", "path-like"),
        ({**SPEC, "weights": "/tmp/evil.weights.h5"}, "weights", "path-like"),
        ({**SPEC, "learning_rate": "fast"}, "learning_rate", "number"),
        ({**SPEC, "colour": "blue"}, "colour", "accepted: recipe, model"),
        ({**SPEC, "repeats": 0}, "repeats", "from 1 to 100"),
        ([SPEC, {**SPEC, "model": 7}], "model", ""),
    ],
)
def test_bad_specs_are_422_with_field_level_messages_and_nothing_is_queued(
    make_client: MakeClient, broker: redis.Redis, db_url: str, body: object, field: str, says: str
) -> None:
    client = make_client(max_epochs=5, max_batch_size=64)
    answer = client.post("/experiments", json=body)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    hit = [p for p in problems if field in p["loc"] or (p["loc"] and field in str(p["loc"][-1]))]
    assert hit, problems
    assert says in " ".join(p["msg"] for p in hit)
    assert queued_task_ids(broker) == []
    assert client.get("/experiments").json()["total"] == 0


@pytest.mark.parametrize(
    ("raw", "says"),
    [(b'{"model": "cnn-small",', "malformed JSON"), (b"\xff\xfe", "UTF-8"), (b'"cnn-small"', "spec object"),
     (b"[]", "at least one"), (b"[" * 5000 + b"]" * 5000, "")],
)
def test_malformed_bodies_are_422_never_500(client: TestClient, raw: bytes, says: str) -> None:
    answer = client.post("/experiments", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert says in answer.text and "Traceback" not in answer.text


def test_one_422_names_every_bad_field(client: TestClient, broker: redis.Redis) -> None:
    body = {"model": "cnn-small", "dataset": "nosuch", "epochs": -1, "batch_size": 0, "warmup_epochs": 200,
            "weights": "imagenet", "input_size": 16, "optimizer": "rmsprop", "colour": "blue", "repeats": 0,
            "hyperparameters": {"no_such": 1, "dropout": 7}}
    answer = client.post("/experiments", json=body)
    assert answer.status_code == 422, answer.text
    named = {".".join(map(str, p["loc"][1:])) for p in answer.json()["detail"]}
    assert named == {"dataset", "epochs", "batch_size", "warmup_epochs", "weights", "input_size", "optimizer", "colour",
                     "repeats", "hyperparameters.no_such", "hyperparameters.dropout"}
    assert queued_task_ids(broker) == []


def test_seed_overflow_is_named_beside_other_problems(client: TestClient) -> None:
    answer = client.post("/experiments", json={**SPEC, "epochs": -1, "seed": 2**31 - 2, "repeats": 3})
    assert answer.status_code == 422, answer.text
    assert {p["loc"][-1] for p in answer.json()["detail"]} == {"epochs", "seed"}


@pytest.mark.parametrize(("field", "value"), [("epochs", 0), ("epochs", 600), ("batch_size", 0), ("batch_size", 4096)])
def test_out_of_range_messages_and_the_schema_state_the_range_in_force(client: TestClient, field: str,
                                                                      value: int) -> None:
    cap = {"epochs": Settings().max_epochs, "batch_size": Settings().max_batch_size}[field]
    answer = client.post("/experiments", json={**SPEC, field: value})
    assert answer.status_code == 422, answer.text
    assert [p["msg"] for p in answer.json()["detail"]] == [f"must be an integer from 1 to {cap}, got {value}"]
    body = client.get("/openapi.json").json()["paths"]["/experiments"]["post"]["requestBody"]
    spec = body["content"]["application/json"]["schema"]["oneOf"][0]
    assert (spec["properties"][field]["minimum"], spec["properties"][field]["maximum"]) == (1, cap)


def _reject_constant(name: str) -> None:
    raise AssertionError(f"the answer is not strict JSON: it contains {name}")


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b'{"model": "cnn-small", "learning_rate": NaN}', "learning_rate"),
     (b'{"model": "cnn-small", "epochs": Infinity}', "epochs"),
     (b'{"model": "cnn-small", "weight_decay": -Infinity, "seed": NaN}', "seed"),
     (b'{"model": "cnn-small", "hyperparameters": {"dropout": NaN}}', "hyperparameters")],
)
def test_non_finite_numbers_are_422_in_strict_json_naming_the_field(client: TestClient, raw: bytes, field: str) -> None:
    answer = client.post("/experiments", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    problems = json.loads(answer.text, parse_constant=_reject_constant)["detail"]
    assert field in {str(p) for problem in problems for p in problem["loc"]}, problems


def test_a_body_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=2000)
    big = {**SPEC, "hyperparameters": {"x" * 3000: 1}}
    assert client.post("/experiments", json=big).status_code == 413
    # Also without a declared length (chunked upload).
    chunks = iter([b'{"model": "', b"x" * 3000, b'"}'])
    answer = client.post("/experiments", content=chunks, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "2000 bytes" in answer.text


def test_idempotency_key_same_body_same_experiments_other_body_409(client: TestClient, broker: redis.Redis) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/experiments", json=[SPEC, {**SPEC, "seed": 1}], headers=headers)
    again = client.post("/experiments", json=[SPEC, {**SPEC, "seed": 1}], headers=headers)
    assert first.status_code == again.status_code == 202
    assert [e["id"] for e in first.json()] == [e["id"] for e in again.json()]
    assert len(queued_task_ids(broker)) == 2  # the retry sent nothing new
    other = client.post("/experiments", json={**SPEC, "seed": 5}, headers=headers)
    assert other.status_code == 409 and "different request body" in other.json()["detail"]


def test_broker_down_is_503_and_the_pending_row_is_sent_by_the_outbox_drain(
    make_client: MakeClient, broker: redis.Redis, db_url: str, broker_url: str
) -> None:
    down = make_client(broker_url="redis://127.0.0.1:1/0")
    answer = down.post("/experiments", json=SPEC, headers={"Idempotency-Key": "k"})
    assert answer.status_code == 503, answer.text
    detail = answer.json()["detail"]
    assert "broker is unreachable" in detail["message"]
    (pending_id,) = detail["pending_experiment_ids"]
    up = make_client()
    assert up.get(f"/experiments/{pending_id}").json()["status"] == "pending"  # never `queued` unsent
    # The worker's drain, with the real Celery client.
    from ferbench.queue import enqueue_experiment, make_celery
    from ferbench.settings import Settings

    celery = make_celery(Settings(broker_url=broker_url))
    session = db_session(db_url)
    try:
        assert outbox.drain_outbox(session, lambda i: enqueue_experiment(celery, i), older_than_s=0) == 1
    finally:
        session.close()
    assert queued_task_ids(broker) == [pending_id]
    assert up.get(f"/experiments/{pending_id}").json()["status"] == "queued"


def test_get_unknown_is_404_and_list_filters_and_pages(client: TestClient) -> None:
    assert client.get("/experiments/does-not-exist").status_code == 404
    client.post("/experiments", json=[SPEC, {**SPEC, "seed": 1}, {**SPEC, "seed": 2}])
    page = client.get("/experiments", params={"limit": 2, "offset": 0}).json()
    rest = client.get("/experiments", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and len(rest["items"]) == 1
    assert {e["id"] for e in page["items"]}.isdisjoint({e["id"] for e in rest["items"]})
    assert client.get("/experiments", params={"status": "queued", "model": "cnn-small"}).json()["total"] == 3
    assert client.get("/experiments", params={"dataset": "fer2013"}).json()["total"] == 0
    assert client.get("/experiments", params={"status": "exploded"}).status_code == 422
    assert client.get("/experiments", params={"limit": 0}).status_code == 422


def test_cancel_queued_running_finished_and_unknown(client: TestClient, db_url: str) -> None:
    queued, running = client.post("/experiments", json=[SPEC, {**SPEC, "seed": 1}]).json()
    answer = client.post(f"/experiments/{queued['id']}/cancel")
    assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
    assert client.post(f"/experiments/{queued['id']}/cancel").status_code == 409
    session = db_session(db_url)
    try:
        lifecycle.claim_experiment(session, running["id"], worker="w1")
    finally:
        session.close()
    flagged = client.post(f"/experiments/{running['id']}/cancel")
    assert flagged.status_code == 202 and flagged.json()["cancel_requested"] and flagged.json()["status"] == "running"
    assert client.post("/experiments/nope/cancel").status_code == 404


def test_a_running_then_finished_experiment_shows_progress_metrics_and_mlflow_url(
    make_client: MakeClient, db_url: str
) -> None:
    client = make_client(mlflow_tracking_uri="http://mlflow.internal:5000/")
    exp = client.post("/experiments", json=SPEC).json()
    session = db_session(db_url)
    try:
        lifecycle.claim_experiment(session, exp["id"], worker="gpu-0")
        lifecycle.set_mlflow_run_id(session, exp["id"], "abc123")
        lifecycle.update_progress(session, exp["id"], {"epoch": 1, "epochs": 2, "batch": 5, "batches": 10,
                                                   "metrics": {"loss": 1.2, "val_accuracy": 0.3}, "eta_seconds": 12.5})
        running = client.get(f"/experiments/{exp['id']}").json()
        assert running["status"] == "running" and running["worker"] == "gpu-0" and running["attempts"] == 1
        assert running["progress"]["epoch"] == 1 and running["progress"]["metrics"]["val_accuracy"] == 0.3
        assert running["mlflow_url"] == "http://mlflow.internal:5000/#/runs/abc123"
        lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
            metrics={"accuracy": 0.61, "params": 12345.0}, split_fingerprint="fp", mlflow_run_id="abc123"))
    finally:
        session.close()
    done = client.get(f"/experiments/{exp['id']}").json()
    assert done["status"] == "succeeded" and done["metrics"]["accuracy"] == 0.61 and done["finished_at"]
    assert done["split_fingerprint"] == "fp"


def test_parallel_submissions_are_all_recorded_and_enqueued(client: TestClient, broker: redis.Redis) -> None:
    def post(seed: int) -> str:
        answer = client.post("/experiments", json={**SPEC, "seed": seed})
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(post, range(40)))
    assert len(set(ids)) == 40
    assert sorted(queued_task_ids(broker)) == sorted(ids)
    assert client.get("/experiments", params={"status": "queued"}).json()["total"] == 40


def test_every_schema_reference_in_the_openapi_document_resolves(client: TestClient) -> None:
    # A local `$defs` reference or a missing component stops ReDoc rendering the whole page.
    document = client.get("/openapi.json").json()
    text = json.dumps(document)
    assert "#/$defs/" not in text
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert referenced <= set(document["components"]["schemas"]), referenced - set(document["components"]["schemas"])
    sweep_body = document["paths"]["/sweeps"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "kind" in json.dumps(sweep_body)  # the nested parameter model is inlined, not dropped
