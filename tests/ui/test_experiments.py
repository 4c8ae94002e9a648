"""The experiments list and one experiment's page in a browser: live progress, metrics, plots, cancel."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ferbench.db import experiments, lifecycle
from ferbench.db.session import make_session_factory
from ferbench.services.mlflow_server import MlflowServer
from ferbench.testing.live_api import LiveApi
from tests.ui.browser import console_errors, fits_width, screenshot, wait_for
from tests.ui.conftest import PER_CLASS, finish, log_plots_run, progress, start, submit


def _caption(page: webdriver.Chrome) -> str:
    return page.find_element(By.CSS_SELECTOR, "#progress .caption").text


def test_an_open_experiment_page_follows_its_progress_and_cancels_it(page: webdriver.Chrome, ui_api: LiveApi, db: str,
                                                                     screenshots: Path) -> None:
    (exp,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 5})
    page.get(f"{ui_api.url}/ui/experiments/{exp['id']}")
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, "#status .badge").text == "queued", what="queued")
    assert _caption(page) == "waiting for a worker"

    start(db, exp["id"])
    progress(db, exp["id"], epoch=2, epochs=5, batch=30, batches=60, eta_seconds=95.0,
             metrics={"loss": 1.41, "accuracy": 0.44, "val_loss": 1.52, "val_accuracy": 0.41, "lr": 0.001})
    wait_for(lambda: _caption(page) == "epoch 2 of 5 · batch 30/60 · ETA 1 min 35 s", what="epoch 2 on the page")
    first = float(page.find_element(By.CSS_SELECTOR, "#progress .progress").get_attribute("data-fraction"))
    assert abs(first - 0.3) < 1e-6  # 1.5 of 5 epochs
    assert page.find_element(By.CSS_SELECTOR, "#latest tr[data-key='val_accuracy'] td").text == "0.4100"
    screenshot(page, screenshots, "experiment-running")

    progress(db, exp["id"], epoch=4, epochs=5, batch=60, batches=60, eta_seconds=20.0,
             metrics={"loss": 1.1, "accuracy": 0.58, "val_loss": 1.3, "val_accuracy": 0.52, "lr": 0.001})
    wait_for(lambda: _caption(page).startswith("epoch 4 of 5"), what="epoch 4 on the page, without a reload")
    assert float(page.find_element(By.CSS_SELECTOR, "#progress .progress").get_attribute("data-fraction")) > first

    page.find_element(By.ID, "cancel").click()
    wait_for(lambda: "Cancellation requested" in page.find_element(By.ID, "notice").text, what="the cancel notice")
    session = make_session_factory(db)()
    try:
        assert experiments.get_experiment(session, exp["id"]).cancel_requested  # type: ignore[union-attr]
        assert lifecycle.mark_cancelled(session, exp["id"])  # what the worker does at its next batch
    finally:
        session.close()
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, "#status .badge").text == "cancelled", what="cancelled")
    assert not page.find_element(By.ID, "cancel").is_displayed()
    assert console_errors(page) == []


def test_a_finished_experiment_shows_metrics_per_class_and_its_mlflow_plots(
        page: webdriver.Chrome, ui_api: LiveApi, db: str, mlflow_server: MlflowServer, tmp_path: Path,
        screenshots: Path) -> None:
    run_id = log_plots_run(mlflow_server.url, tmp_path)
    (exp,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 10})
    finish(db, exp["id"], 0.61, run_id=run_id)

    page.get(f"{ui_api.url}/ui/experiments/{exp['id']}")
    wait_for(lambda: len(page.find_elements(By.CSS_SELECTOR, "#plots figure img")) == 2, what="two plots")
    # The PNGs arrived through the API (blob: URLs made from its answers) and decoded as images.
    for image in page.find_elements(By.CSS_SELECTOR, "#plots figure img"):
        assert image.get_attribute("src").startswith("blob:")
        wait_for(lambda image=image: page.execute_script("return arguments[0].naturalWidth", image) > 100, what="a decoded PNG")
    assert [f.get_attribute("data-plot") for f in page.find_elements(By.CSS_SELECTOR, "#plots figure")] == \
        ["confusion_matrix.png", "training_curves.png"]
    assert page.find_element(By.CSS_SELECTOR, "#metrics tr[data-key='accuracy'] td").text == "0.6100"
    happy = page.find_element(By.CSS_SELECTOR, "#per-class tr[data-class='Happy']").find_elements(By.TAG_NAME, "td")
    assert [c.text for c in happy[1:4]] == ["0.8000", "0.8500", f"{PER_CLASS['Happy']['f1']:.4f}"]
    assert page.find_element(By.ID, "mlflow-link").get_attribute("href") == f"{mlflow_server.url}/#/runs/{run_id}"
    assert not page.find_element(By.ID, "cancel").is_displayed()
    assert page.find_element(By.CSS_SELECTOR, "#spec tr[data-key='epochs'] td").text == "10"
    screenshot(page, screenshots, "experiment-finished")
    assert console_errors(page) == []


def test_a_failed_experiment_shows_its_error(page: webdriver.Chrome, ui_api: LiveApi, db: str) -> None:
    (exp,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 2})
    start(db, exp["id"])
    session = make_session_factory(db)()
    try:
        assert lifecycle.fail_experiment(session, exp["id"], "TrainingError: diverged at epoch 1, batch 7")
    finally:
        session.close()
    page.get(f"{ui_api.url}/ui/experiments/{exp['id']}")
    wait_for(lambda: page.find_element(By.ID, "error").text == "TrainingError: diverged at epoch 1, batch 7",
             what="the error text")
    assert page.find_element(By.CSS_SELECTOR, "#status .badge").text == "failed"


def test_the_list_refreshes_itself_and_filters(page: webdriver.Chrome, ui_api: LiveApi, db: str, screenshots: Path) -> None:
    running, queued = (submit(ui_api, {"model": m, "dataset": "synthetic", "epochs": 8})[0] for m in ("cnn-small", "vgg19"))
    (done,) = submit(ui_api, {"model": "mini-xception", "dataset": "synthetic", "epochs": 3})
    finish(db, done["id"], 0.57)
    start(db, running["id"])
    progress(db, running["id"], epoch=3, epochs=8, batch=10, batches=40, eta_seconds=600.0, metrics={"val_accuracy": 0.4})

    page.get(f"{ui_api.url}/ui/experiments")

    def status_of(exp_id: str) -> str:
        return page.find_element(By.CSS_SELECTOR, f"tr[data-experiment-id='{exp_id}']").get_attribute("data-status")

    wait_for(lambda: status_of(running["id"]) == "running", what="the running row")
    row = page.find_element(By.CSS_SELECTOR, f"tr[data-experiment-id='{running['id']}']")
    assert row.find_element(By.CSS_SELECTOR, ".caption").text == "epoch 3 of 8 · batch 10/40 · ETA 10 min 0 s"
    assert status_of(queued["id"]) == "queued" and status_of(done["id"]) == "succeeded"
    screenshot(page, screenshots, "experiments")

    # No reload: the page polls, so the next epoch shows up by itself.
    progress(db, running["id"], epoch=4, epochs=8, batch=1, batches=40, eta_seconds=450.0, metrics={})
    wait_for(lambda: page.find_element(By.CSS_SELECTOR, f"tr[data-experiment-id='{running['id']}'] .caption").text
             .startswith("epoch 4 of 8"), what="epoch 4 in the list")

    Select(page.find_element(By.ID, "f-status")).select_by_value("running")
    wait_for(lambda: [r.get_attribute("data-experiment-id") for r in page.find_elements(By.CSS_SELECTOR, "tbody tr[data-experiment-id]")]
             == [running["id"]], what="only the running one")
    assert "status=running" in page.current_url
    Select(page.find_element(By.ID, "f-status")).select_by_value("")
    Select(page.find_element(By.ID, "f-model")).select_by_value("vgg19")
    wait_for(lambda: [r.get_attribute("data-experiment-id") for r in page.find_elements(By.CSS_SELECTOR, "tbody tr[data-experiment-id]")]
             == [queued["id"]], what="only vgg19")
    page.set_window_size(390, 844)
    try:
        assert fits_width(page)
    finally:
        page.set_window_size(1280, 900)
    assert console_errors(page) == []
