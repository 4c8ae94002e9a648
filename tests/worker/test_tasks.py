"""The task body on a real (SQLite) database: it only runs what it claims, and every outcome lands on the row."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fer_models.errors import ResultNotLogged
from fer_models.training.hooks import ExperimentResult
from ferbench.db import experiments
from ferbench.db.migrate import upgrade
from ferbench.db.models import ResultGroup
from ferbench.settings import Settings, get_settings
from worker import records
from worker.execution import execute_experiment


@pytest.fixture
def settings() -> Settings:
    current = get_settings()  # FERBENCH_HOME is a fresh folder per test (tests/conftest.py)
    upgrade(current.resolved_database_url)
    return current


@pytest.fixture
def create(settings: Settings) -> Callable[..., str]:
    def make(**spec: object) -> str:
        full = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1, "seed": 0, **spec}
        with records.session_scope() as session:
            outcome = experiments.create_experiments(session, [full], enqueue=lambda _id: None)
            return outcome.experiments[0].id

    return make


def row(experiment_id: str) -> dict[str, object]:
    with records.session_scope() as session:
        exp = experiments.get_experiment(session, experiment_id)
        assert exp is not None
        return {"status": exp.status, "attempts": exp.attempts, "started_at": exp.started_at, "error": exp.error}


def test_a_duplicate_delivery_does_nothing(settings: Settings, create: Callable[..., str]) -> None:
    experiment_id = create()
    assert records.claim(experiment_id) is not None  # the first delivery owns it
    assert execute_experiment(experiment_id, settings) == "skipped"
    assert row(experiment_id)["status"] == "running" and row(experiment_id)["attempts"] == 1


def test_an_experiment_cancelled_in_the_queue_never_starts(settings: Settings, create: Callable[..., str]) -> None:
    experiment_id = create()
    with records.session_scope() as session:
        experiments.request_cancel(session, experiment_id)
    assert execute_experiment(experiment_id, settings) == "skipped"
    assert row(experiment_id) == {"status": "cancelled", "attempts": 0, "started_at": None, "error": None}


def test_an_unknown_id_is_skipped(settings: Settings) -> None:
    assert execute_experiment("no-such-experiment", settings) == "skipped"


def test_a_run_that_cannot_start_fails_with_the_reason(settings: Settings, create: Callable[..., str]) -> None:
    experiment_id = create(dataset="nosuchdata")  # a valid name, but no such folder under the data dir
    assert execute_experiment(experiment_id, settings.model_copy(update={"mlflow_tracking_uri": None})) == "failed"
    state = row(experiment_id)
    assert state["status"] == "failed" and "nosuchdata" in str(state["error"])
    assert state["attempts"] == 1


def test_the_engines_result_is_what_the_results_row_stores(settings: Settings, create: Callable[..., str]) -> None:
    experiment_id = create()
    assert records.claim(experiment_id) is not None
    result = ExperimentResult(
        status="stopped_budget", metrics={"accuracy": 0.5, "model_bytes": 2048.0, "inference_ms": float("nan")},
        per_class={"angry": {"f1": 0.25}}, confusion_matrix=[[1]], history={"loss": [1.0]}, mlflow_run_id="run-9",
        dataset_fingerprint="data", split_fingerprint="split", epochs_completed=1, stopped_reason="time_budget",
        protocol="official")
    assert records.finish(experiment_id, result)
    assert not records.finish(experiment_id, result)  # a second delivery's finish changes nothing
    with records.session_scope() as session:
        stored = experiments.get_result(session, experiment_id)
        exp = experiments.get_experiment(session, experiment_id)
        assert stored is not None and exp is not None
        assert (stored.accuracy, stored.model_bytes, stored.inference_ms) == (0.5, 2048.0, None)
        assert (stored.split_fingerprint, stored.per_class, stored.mlflow_run_id) == ("split", {"angry": {"f1": 0.25}},
                                                                                      "run-9")
        assert (exp.status, exp.stopped_reason, exp.mlflow_run_id) == ("succeeded", "time_budget", "run-9")
        assert stored.protocol == "official"
        (group,) = session.query(ResultGroup).filter_by(split_fingerprint="split").all()
        assert (group.protocol, group.recipe) == ("official", None)


def test_metrics_computed_before_the_tracking_server_went_away_are_kept_on_the_failed_row(
        settings: Settings, create: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    import fer_models.training.engine as engine

    def evaluated_but_not_logged(*_args: object, **_kwargs: object) -> ExperimentResult:
        raise ResultNotLogged("the MLflow tracking server did not answer (artifact upload)", {"accuracy": 0.4})

    monkeypatch.setattr(engine, "run_experiment", evaluated_but_not_logged)
    experiment_id = create()
    assert execute_experiment(experiment_id, settings) == "failed"
    with records.session_scope() as session:
        exp = experiments.get_experiment(session, experiment_id)
        assert exp is not None
        assert exp.error == "the MLflow tracking server did not answer (artifact upload)"
        assert exp.progress == {"test_metrics": {"accuracy": 0.4}}
