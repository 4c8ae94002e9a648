"""GET /models, GET /datasets and GET /health."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fer_models.models.registry import list_models
from tests.api.conftest import MakeClient


def test_models_lists_the_registry_with_schemas(client: TestClient) -> None:
    models = client.get("/models").json()
    assert [m["name"] for m in models] == list_models()
    small = next(m for m in models if m["name"] == "cnn-small")
    assert small["family"] and small["defaults"] and small["hyperparameters"]["type"] == "object"


def test_datasets_lists_synthetic_as_present_without_server_paths(client: TestClient) -> None:
    datasets = {d["name"]: d for d in client.get("/datasets").json()}
    assert datasets["synthetic"]["present"] and len(datasets["synthetic"]["classes"]) == 7
    assert "source" not in datasets["synthetic"]


def test_health_is_200_when_database_and_broker_answer(client: TestClient) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200, answer.text
    assert all(d["ok"] for d in answer.json()["dependencies"].values())


def test_health_is_503_naming_each_dependency_that_is_down(make_client: MakeClient) -> None:
    client = make_client(broker_url="redis://127.0.0.1:1/0", mlflow_tracking_uri="http://127.0.0.1:1")
    answer = client.get("/health")
    assert answer.status_code == 503
    deps = answer.json()["dependencies"]
    assert deps["database"]["ok"] and not deps["broker"]["ok"] and not deps["tracking_server"]["ok"]
    assert "broker unreachable" in deps["broker"]["detail"]
    assert "Error" not in answer.text and "Exception" not in answer.text  # causes, not class names
    db_down = make_client(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none").get("/health")
    assert db_down.status_code == 503 and not db_down.json()["dependencies"]["database"]["ok"]


def test_recipes_are_served_with_their_resolved_specs(client: TestClient) -> None:
    from fer_models.training.recipes import list_recipes

    recipes = client.get("/recipes").json()
    assert recipes == [recipe.to_dict() for recipe in list_recipes()]
    one = client.get("/recipes/writeup-vgg19")
    assert one.status_code == 200 and one.json()["spec"]["epochs"] == 50
    missing = client.get("/recipes/nope")
    assert missing.status_code == 404 and "writeup-vgg19" in missing.json()["detail"]
