"""The web pages against a real uvicorn API (SQLite, a private Redis database, a real `mlflow server`), in
headless Chromium. Rows are finished and moved along through the SQL layer, as tests/api does, not by training."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver

from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from ferbench.services.mlflow_server import MlflowServer
from ferbench.testing.databases import empty_tables, migrated_database, private_redis
from ferbench.testing.live_api import LiveApi, live_api
from tests.ui.browser import MISSING, start_chromium

if MISSING:
    if os.environ.get("CI"):  # .ci/run installs them: in CI a missing browser is a failure, not a skip
        raise RuntimeError(MISSING)
    pytest.skip(MISSING, allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ui_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database("sqlite", tmp_path_factory.mktemp("ui-db")) as url:
        yield url


@pytest.fixture(scope="session")
def ui_broker() -> Iterator[str]:
    with private_redis() as url:
        yield url


def _serve(tmp_path_factory: pytest.TempPathFactory, database: str, broker: str, tracking: str,
           **env: str) -> Any:
    return live_api(home=tmp_path_factory.mktemp("ui-api"), database_url=database, broker_url=broker,
                    extra_env={"MLFLOW_TRACKING_URI": tracking, **env})


@pytest.fixture(scope="session")
def ui_api(tmp_path_factory: pytest.TempPathFactory, ui_database: str, ui_broker: str,
           mlflow_server: MlflowServer) -> Iterator[LiveApi]:
    with _serve(tmp_path_factory, ui_database, ui_broker, mlflow_server.url) as api:
        yield api


@pytest.fixture(scope="session")
def ui_api_with_keys(tmp_path_factory: pytest.TempPathFactory, ui_database: str, ui_broker: str,
                     mlflow_server: MlflowServer) -> Iterator[LiveApi]:
    with _serve(tmp_path_factory, ui_database, ui_broker, mlflow_server.url,
                FERBENCH_API_KEYS="page-key-0123456789") as api:
        yield api


@pytest.fixture(scope="session")
def ui_api_closed(tmp_path_factory: pytest.TempPathFactory, ui_database: str, ui_broker: str,
                  mlflow_server: MlflowServer) -> Iterator[LiveApi]:
    """Reads need the key too (FERBENCH_READ_REQUIRES_KEY)."""
    with _serve(tmp_path_factory, ui_database, ui_broker, mlflow_server.url,
                FERBENCH_API_KEYS="page-key-0123456789", FERBENCH_READ_REQUIRES_KEY="true") as api:
        yield api


@pytest.fixture
def db(ui_database: str) -> str:
    empty_tables(ui_database)
    return ui_database


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome) -> webdriver.Chrome:
    """The shared browser, on a blank page with an empty sessionStorage and network log."""
    browser.get("about:blank")
    browser.get_log("performance")
    browser.get_log("browser")
    return browser


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FERBENCH_SCREENSHOTS=docs/screenshots keeps them (that is how the committed ones were made)."""
    chosen = os.environ.get("FERBENCH_SCREENSHOTS")
    return (ROOT / chosen) if chosen else tmp_path_factory.mktemp("screenshots")


def submit(api: LiveApi, spec: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
    answer = httpx.post(f"{api.url}/experiments", json=spec, timeout=30,
                        headers={"X-API-Key": key} if key else {})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    return body if isinstance(body, list) else [body]


PER_CLASS = {name: {"precision": p, "recall": r, "f1": 2 * p * r / (p + r), "support": 60}
             for name, p, r in (("Angry", 0.5, 0.4), ("Disgust", 0.3, 0.2), ("Fear", 0.45, 0.35), ("Happy", 0.8, 0.85),
                                ("Sad", 0.5, 0.45), ("Surprise", 0.7, 0.75), ("Neutral", 0.55, 0.6))}


def metrics(accuracy: float, **more: float) -> dict[str, float]:
    return {"accuracy": accuracy, "balanced_accuracy": accuracy - 0.02, "f1_macro": accuracy - 0.03,
            "f1_weighted": accuracy - 0.01, "precision_macro": accuracy - 0.025, "recall_macro": accuracy - 0.02,
            "roc_auc_macro": min(0.99, accuracy + 0.2), "top2_accuracy": min(0.99, accuracy + 0.15),
            "train_seconds": 120.0, "epoch_seconds": 12.0, "inference_ms": 1.5, "throughput": 2500.0,
            "params": 120_000.0, "model_bytes": 480_000.0, **more}


def start(database: str, experiment_id: str) -> None:
    session = make_session_factory(database)()
    try:
        assert lifecycle.claim_experiment(session, experiment_id) is not None
    finally:
        session.close()


def progress(database: str, experiment_id: str, **values: Any) -> None:
    session = make_session_factory(database)()
    try:
        assert lifecycle.update_progress(session, experiment_id, values)
    finally:
        session.close()


def finish(database: str, experiment_id: str, accuracy: float, *, run_id: str | None = None,
           split: str = "fp-ui", **more: float) -> None:
    """queued -> running -> succeeded with a results row, as the worker's transaction does."""
    start(database, experiment_id)
    session = make_session_factory(database)()
    try:
        assert lifecycle.finish_experiment(session, experiment_id, lifecycle.ResultRecord(
            metrics=metrics(accuracy, **more), per_class=PER_CLASS, split_fingerprint=split, mlflow_run_id=run_id))
    finally:
        session.close()


def log_plots_run(tracking_uri: str, folder: Path) -> str:
    """An MLflow run holding the figures a finished training logs under plots/ (drawn by the same code)."""
    import uuid

    import numpy as np
    from mlflow.tracking import MlflowClient

    from fer_models.data.labels import CLASS_NAMES
    from fer_models.evaluation.plots import plot_confusion_matrix, plot_training_curves

    rng = np.random.default_rng(0)
    cm = (np.eye(7) * 40 + rng.integers(0, 8, (7, 7))).astype(int).tolist()
    epochs = np.arange(1, 11)
    history = {"loss": list(1.9 / epochs**0.5), "val_loss": list(2.0 / epochs**0.4), "accuracy": list(0.3 + 0.04 * epochs),
               "val_accuracy": list(0.28 + 0.035 * epochs)}
    client = MlflowClient(tracking_uri)
    run = client.create_run(client.create_experiment(f"ui-{uuid.uuid4().hex[:8]}"))
    for path in (plot_confusion_matrix(cm, CLASS_NAMES, folder / "confusion_matrix.png", title="cnn-small on synthetic"),
                 plot_training_curves(history, folder / "training_curves.png", title="cnn-small on synthetic")):
        client.log_artifact(run.info.run_id, str(path), "plots")
    client.set_terminated(run.info.run_id)
    return run.info.run_id
