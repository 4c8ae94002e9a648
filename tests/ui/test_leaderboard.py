"""The leaderboard page in a browser: a finished experiment's row, mean ± std, links, sorting, filters."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ferbench.services.mlflow_server import MlflowServer
from ferbench.testing.live_api import LiveApi
from tests.ui.browser import console_errors, fits_width, screenshot, wait_for
from tests.ui.conftest import finish, submit


def _rows(page: webdriver.Chrome) -> list[tuple[str, str]]:
    return [(r.get_attribute("data-model"), r.get_attribute("data-experiment-id"))
            for r in page.find_elements(By.CSS_SELECTOR, "#board tbody tr[data-model]")]


def test_a_finished_experiment_is_ranked_linked_and_sortable(page: webdriver.Chrome, ui_api: LiveApi, db: str,
                                                             mlflow_server: MlflowServer, screenshots: Path) -> None:
    seeds = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 3, "repeats": 3})
    (vgg,) = submit(ui_api, {"model": "vgg19", "dataset": "synthetic", "epochs": 3})
    (mini,) = submit(ui_api, {"model": "mini-xception", "dataset": "synthetic", "epochs": 3})
    for exp, acc in zip(seeds, (0.60, 0.62, 0.64), strict=True):
        finish(db, exp["id"], acc, run_id=f"run{exp['id'][:8]}")
    finish(db, vgg["id"], 0.66, run_id="runvgg", inference_ms=9.0)
    finish(db, mini["id"], 0.55, run_id="runmini", inference_ms=0.5)

    page.get(f"{ui_api.url}/")
    wait_for(lambda: len(_rows(page)) == 3, what="three leaderboard rows")
    assert [m for m, _ in _rows(page)] == ["vgg19", "cnn-small", "mini-xception"]
    cnn = page.find_element(By.CSS_SELECTOR, "#board tr[data-model='cnn-small']")
    # The best seed's experiment, mean ± sample std over the three seeds with the t interval of the mean
    # (0.62 ± 4.303 x 0.02 / sqrt 3), the MLflow run.
    assert cnn.get_attribute("data-experiment-id") == seeds[2]["id"]
    assert cnn.find_element(By.CSS_SELECTOR, "td.sorted").text.splitlines() == ["0.6200 ± 0.0200",
                                                                              "95% CI 0.5703–0.6697"]
    mlflow = cnn.find_element(By.CSS_SELECTOR, "a.mlflow-link").get_attribute("href")
    assert mlflow == f"{mlflow_server.url}/#/runs/run{seeds[2]['id'][:8]}"
    screenshot(page, screenshots, "leaderboard")

    # Rank by a cost metric by clicking its column: lower first, and the address remembers it.
    page.find_element(By.CSS_SELECTOR, "th a[data-metric='inference_ms']").click()
    wait_for(lambda: [m for m, _ in _rows(page)] == ["mini-xception", "cnn-small", "vgg19"], what="rows by latency")
    assert "metric=inference_ms" in page.current_url
    page.refresh()
    wait_for(lambda: [m for m, _ in _rows(page)] == ["mini-xception", "cnn-small", "vgg19"], what="the same order after reload")

    # Filters: the model, then the family (vgg19 is family vgg).
    Select(page.find_element(By.ID, "f-model")).select_by_value("vgg19")
    wait_for(lambda: [m for m, _ in _rows(page)] == ["vgg19"], what="only vgg19")
    Select(page.find_element(By.ID, "f-model")).select_by_value("")
    Select(page.find_element(By.ID, "f-family")).select_by_value("cnn")
    wait_for(lambda: [m for m, _ in _rows(page)] == ["cnn-small"], what="only the cnn family")

    # The row opens its experiment's page (the best seed by the ranking metric: ties keep the first).
    row = page.find_element(By.CSS_SELECTOR, "#board tr[data-model='cnn-small']")
    best = row.get_attribute("data-experiment-id")
    assert best in {e["id"] for e in seeds}
    row.find_element(By.CSS_SELECTOR, "a.experiment-link").click()
    wait_for(lambda: page.current_url.endswith(f"/ui/experiments/{best}"), what="the experiment page")
    wait_for(lambda: "cnn-small on synthetic" in page.find_element(By.ID, "title").text, what="its title")
    # Its run id was made up for the test: the plots' 404 says so on the page.
    wait_for(lambda: "has no run" in page.find_element(By.ID, "plots-note").text, what="the note on the missing run")
    assert console_errors(page, answered=(404,)) == []


def test_the_leaderboard_fits_a_phone(page: webdriver.Chrome, ui_api: LiveApi, db: str) -> None:
    (exp,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 1})
    finish(db, exp["id"], 0.5)
    page.set_window_size(390, 844)
    try:
        page.get(f"{ui_api.url}/ui/leaderboard")
        wait_for(lambda: len(_rows(page)) == 1, what="the row")
        assert fits_width(page)
    finally:
        page.set_window_size(1280, 900)
