"""The sweeps pages in a browser: the list, and one sweep's trials (state, objective, links to experiment pages and
MLflow runs), its best trial and Optuna's plots of its parent run through the API; cancel from the page. Trials are
moved along through the SQL layer and the sweep brought up to date by the worker's own code, not by training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.tracking import MlflowClient
from selenium import webdriver
from selenium.webdriver.common.by import By

from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from ferbench.services.mlflow_server import MlflowServer
from ferbench.sweeps.advance import sync_sweep
from ferbench.testing.live_api import LiveApi
from tests.ui.browser import console_errors, fits_width, requested_urls, screenshot, wait_for
from tests.ui.conftest import PER_CLASS, metrics, start
from tests.ui.test_compare_docs import _offline_only

SWEEP = {"base": {"model": "cnn-small", "dataset": "synthetic", "epochs": 3, "batch_size": 16},
         "space": {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
                   "hp.filters": {"kind": "choice", "values": [8, 16]}},
         "n_trials": 3, "parallel": 3, "sampler": "random", "pruner": {"kind": "median", "startup_trials": 1}}


def _post_sweep(api: LiveApi) -> dict[str, Any]:
    answer = httpx.post(f"{api.url}/sweeps", json=SWEEP, timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()


def _end_trials(db: str, sweep: dict[str, Any], tracking_uri: str) -> dict[int, str]:
    """Trial 0 ends at 0.41, trial 1 is pruned after epoch 1, trial 2 ends at 0.55 (each with an MLflow run);
    returns each trial's run id."""
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment(f"ui-sweep-{sweep['id'][:8]}")
    runs = {}
    session = make_session_factory(db)()
    try:
        for trial, value in zip(sweep["trials"], (0.41, None, 0.55)):
            (exp,) = trial["experiments"]
            runs[trial["number"]] = client.create_run(experiment).info.run_id
            start(db, exp["id"])
            lifecycle.set_mlflow_run_id(session, exp["id"], runs[trial["number"]])
            if value is None:
                assert lifecycle.mark_pruned(session, exp["id"], 1)
                continue
            assert lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
                metrics=metrics(value + 0.02), per_class=PER_CLASS, split_fingerprint="fp-ui",
                mlflow_run_id=runs[trial["number"]], sweep_value=value))
        assert sync_sweep(session, db, sweep["id"], lambda _id: None).finished == "succeeded"
    finally:
        session.close()
    return runs


def _close_parent_run(db: str, tracking_uri: str, sweep_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the worker does once the sweep has ended: Optuna's plots and the summary on the parent run."""
    from ferbench.settings import get_settings
    from worker.sweep_trials import close_parent_run

    monkeypatch.setenv("FERBENCH_DATABASE_URL", db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    get_settings.cache_clear()
    assert close_parent_run(sweep_id, get_settings())


def test_a_finished_sweep_shows_its_trials_best_trial_and_optuna_plots(
        page: webdriver.Chrome, ui_api: LiveApi, db: str, mlflow_server: MlflowServer, screenshots: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = _post_sweep(ui_api)
    page.get(f"{ui_api.url}/ui/sweeps")
    row = f"#sweeps tr[data-sweep-id='{sweep['id']}']"
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, f"{row} .badge").text == "running", what="the running sweep")
    assert page.find_element(By.CSS_SELECTOR, f"{row} td.trials").text.startswith("3 of 3")

    runs = _end_trials(db, sweep, mlflow_server.url)
    _close_parent_run(db, mlflow_server.url, sweep["id"], monkeypatch)
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, f"{row} .badge").text == "succeeded", what="the sweep's end")
    assert page.find_element(By.CSS_SELECTOR, f"{row} td.best").text == "0.5500"
    assert "2 complete, 1 pruned" in page.find_element(By.CSS_SELECTOR, f"{row} td.trials").text
    page.find_element(By.CSS_SELECTOR, f"{row} a.sweep-link").click()

    wait_for(lambda: len(page.find_elements(By.CSS_SELECTOR, "#trials tr[data-trial]")) == 3, what="three trials")
    trials = page.find_elements(By.CSS_SELECTOR, "#trials tr[data-trial]")
    assert [t.get_attribute("data-state") for t in trials] == ["complete", "pruned", "complete"]
    assert [t.find_element(By.CSS_SELECTOR, "td.objective").text for t in trials] == ["0.4100", "–", "0.5500"]
    assert [t.get_attribute("data-trial") for t in page.find_elements(By.CSS_SELECTOR, "#trials tr.best-trial")] == ["2"]
    for trial, shown in zip(sweep["trials"], trials):
        (exp,) = trial["experiments"]
        link = shown.find_element(By.CSS_SELECTOR, "a.experiment-link")
        assert link.get_attribute("href") == f"{ui_api.url}/ui/experiments/{exp['id']}"
        run_link = shown.find_element(By.CSS_SELECTOR, "a.run-link").get_attribute("href")
        assert run_link == f"{mlflow_server.url}/#/runs/{runs[trial['number']]}"
    assert page.find_element(By.CSS_SELECTOR, "#best tr[data-key='trial'] td").text == "#2"
    assert page.find_element(By.CSS_SELECTOR, "#best tr[data-key='test accuracy'] td").text == "0.5700"
    parent = httpx.get(f"{ui_api.url}/sweeps/{sweep['id']}", timeout=10).json()["mlflow_run_id"]
    assert page.find_element(By.ID, "mlflow-link").get_attribute("href") == f"{mlflow_server.url}/#/runs/{parent}"
    assert not page.find_element(By.ID, "cancel").is_displayed()

    # Optuna's figures from the parent run, through the API (blob: URLs made from its answers), decoded as images.
    wait_for(lambda: len(page.find_elements(By.CSS_SELECTOR, "#plots figure img")) >= 2, what="Optuna's plots")
    shown = {f.get_attribute("data-plot") for f in page.find_elements(By.CSS_SELECTOR, "#plots figure")}
    assert {"optimization_history.png", "parallel_coordinate.png"} <= shown, shown
    for image in page.find_elements(By.CSS_SELECTOR, "#plots figure img"):
        assert image.get_attribute("src").startswith("blob:")
        wait_for(lambda image=image: page.execute_script("return arguments[0].naturalWidth", image) > 100,
                 what="a decoded PNG")
    screenshot(page, screenshots, "sweep")

    for path in ("/ui/sweeps", f"/ui/sweeps/{sweep['id']}"):
        for width in (1280, 390):
            page.set_window_size(width, 844)
            page.get(f"{ui_api.url}{path}")
            wait_for(lambda: page.find_elements(By.CSS_SELECTOR, "tr[data-sweep-id], tr[data-trial]"), what=path)
            assert fits_width(page), f"{path} scrolls sideways at {width} px"
    page.set_window_size(1280, 900)
    assert _offline_only(requested_urls(page), ui_api) == []
    assert console_errors(page) == []


def test_cancel_from_the_page_ends_a_sweep_whose_trials_are_all_queued(page: webdriver.Chrome, ui_api: LiveApi,
                                                                       db: str) -> None:
    sweep = _post_sweep(ui_api)
    page.get(f"{ui_api.url}/ui/sweeps/{sweep['id']}")
    wait_for(lambda: page.find_element(By.ID, "cancel").is_displayed(), what="the cancel button")
    page.find_element(By.ID, "cancel").click()
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, "#status .badge").text == "cancelled", what="cancelled")
    assert [t.get_attribute("data-state") for t in page.find_elements(By.CSS_SELECTOR, "#trials tr[data-trial]")] == \
        ["cancelled"] * 3
    assert not page.find_element(By.ID, "cancel").is_displayed()
    assert console_errors(page) == []
