"""POST /registry/promote and GET /registry against a real MLflow server: versions, aliases, tags, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from ferbench.testing.registered_models import build_model, log_model_run
from tests.api.conftest import MakeClient

BODY = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}


def _submit(client: Any, **extra: Any) -> str:
    answer = client.post("/experiments", json={**BODY, **extra})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


@pytest.fixture
def registry_client(make_client: MakeClient, mlflow_server: Any) -> Any:
    return make_client(mlflow_tracking_uri=mlflow_server.url)


def test_promote_registers_a_tagged_version_and_moves_the_alias(registry_client: Any, db_url: str,
                                                                 mlflow_server: Any) -> None:
    name = f"fer-{db_url.split(':')[0][:6]}-promote"  # one registered model per backend run
    experiment_id = _submit(registry_client)
    run_id, model_id = log_model_run(mlflow_server.url, build_model("cnn-small", 0), experiment_id=experiment_id)
    session = make_session_factory(db_url)()
    try:
        lifecycle.claim_experiment(session, experiment_id)
        lifecycle.finish_experiment(session, experiment_id, lifecycle.ResultRecord(
            metrics={"accuracy": 0.61}, split_fingerprint="split-fp", mlflow_run_id=run_id))
    finally:
        session.close()

    first = registry_client.post("/registry/promote", json={"experiment_id": experiment_id, "name": name})
    assert first.status_code == 200, first.text
    version = first.json()
    assert version["aliases"] == ["champion"] and version["experiment_id"] == experiment_id
    assert version["model_id"] == model_id and version["source"] == f"models:/{model_id}"
    assert version["tags"]["test_accuracy"] == "0.610000" and version["tags"]["split_fingerprint"] == "split-fp"
    assert (version["tags"]["dataset"], version["tags"]["recipe"]) == ("synthetic", "none")
    assert version["tags"]["dataset_fingerprint"] == "fp-synthetic"

    second = registry_client.post("/registry/promote",
                                  json={"experiment_id": experiment_id, "name": name, "alias": "staging"}).json()
    assert int(second["version"]) == int(version["version"]) + 1
    listed = {m["name"]: m for m in registry_client.get("/registry").json()["models"]}[name]
    assert listed["aliases"] == {"champion": version["version"], "staging": second["version"]}
    assert [v["version"] for v in listed["versions"]] == [version["version"], second["version"]]


def test_promote_refuses_what_has_no_tested_model(registry_client: Any, db_url: str) -> None:
    queued = _submit(registry_client)
    failed = _submit(registry_client, seed=7)
    session = make_session_factory(db_url)()
    try:
        lifecycle.claim_experiment(session, failed)
        lifecycle.fail_experiment(session, failed, "TrainingError: diverged")
    finally:
        session.close()
    for experiment_id, words in ((queued, "is queued: wait until it has finished"), (failed, "is failed")):
        answer = registry_client.post("/registry/promote", json={"experiment_id": experiment_id})
        assert answer.status_code == 409, answer.text
        assert words in answer.json()["detail"] and "succeeded experiments only" in answer.json()["detail"]
    missing = registry_client.post("/registry/promote", json={"experiment_id": "no-such-id"})
    assert missing.status_code == 404 and "no-such-id" in missing.json()["detail"]
    bad_alias = registry_client.post("/registry/promote", json={"experiment_id": queued, "alias": "latest"})
    assert bad_alias.status_code == 422 and "'latest'" in bad_alias.json()["detail"]
