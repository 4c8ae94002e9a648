"""ferbench.client against a scripted transport: answers parsed into api.schemas' models, every failure one ApiError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from api.schemas import ExperimentOut
from ferbench.client import ApiClient, ApiError

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def experiment(experiment_id: str) -> dict[str, Any]:
    return ExperimentOut(
        id=experiment_id, status="queued", model="cnn-small", family="cnn", dataset="synthetic", seed=0, group_id=None,
        spec_key="k", spec={"model": "cnn-small"}, progress=None, metrics=None, mlflow_run_id=None, mlflow_url=None,
        error=None, attempts=0, cancel_requested=False, worker=None, created_at=NOW, enqueued_at=None,
        started_at=None, finished_at=None, heartbeat_at=None,
    ).model_dump(mode="json")


def client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None) -> ApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    return ApiClient("http://api.test", api_key="k1", transport=httpx.MockTransport(handler))


def test_submit_gives_a_list_whether_the_api_answers_one_experiment_or_several() -> None:
    with client(lambda _: httpx.Response(202, json=experiment("e1"))) as one:
        assert [e.id for e in one.submit({"model": "cnn-small"})] == ["e1"]
    with client(lambda _: httpx.Response(202, json=[experiment("e1"), experiment("e2")])) as many:
        assert [e.id for e in many.submit({"model": "cnn-small", "repeats": 2})] == ["e1", "e2"]


def test_leaderboard_sends_only_the_filters_given_and_the_key() -> None:
    seen: list[httpx.Request] = []
    body = {"metric": "f1_macro", "order": "desc", "dataset": None, "entries": []}
    with client(lambda _: httpx.Response(200, json=body), seen) as api:
        board = api.leaderboard(metric="f1_macro", limit=5, best_per_model=True)
    assert board.metric == "f1_macro" and board.entries == []
    assert dict(seen[0].url.params) == {"metric": "f1_macro", "limit": "5", "best_per_model": "true"}
    assert seen[0].headers["X-API-Key"] == "k1"


@pytest.mark.parametrize(("answer", "fragment"), [
    (httpx.Response(404, json={"detail": "experiment 'x' not found"}), "GET /experiments/x answered 404: experiment 'x' not found"),
    (httpx.Response(200, json={"items": []}), "a body this client does not know"),
])
def test_an_error_or_an_unknown_body_is_one_api_error(answer: httpx.Response, fragment: str) -> None:
    with client(lambda _: answer) as api, pytest.raises(ApiError, match=fragment):
        api.experiment("x")


def test_an_unreachable_api_says_how_to_start_one() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client(refuse) as api, pytest.raises(ApiError, match="ferbench up"):
        api.models()
