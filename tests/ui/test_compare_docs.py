"""The compare page, and /docs and /redoc rendering in a browser that can reach nothing but 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.common.by import By

from ferbench.testing.live_api import LiveApi
from tests.ui.browser import console_errors, fits_width, requested_urls, screenshot, wait_for
from tests.ui.conftest import PER_CLASS, finish, submit


def test_compare_picks_finished_runs_and_puts_metrics_and_per_class_f1_side_by_side(
        page: webdriver.Chrome, ui_api: LiveApi, db: str, screenshots: Path) -> None:
    (cnn,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 3})
    (mini,) = submit(ui_api, {"model": "mini-xception", "dataset": "synthetic", "epochs": 3})
    (waiting,) = submit(ui_api, {"model": "vgg19", "dataset": "synthetic", "epochs": 3})
    finish(db, cnn["id"], 0.62, inference_ms=1.5)
    finish(db, mini["id"], 0.58, inference_ms=0.7)

    page.get(f"{ui_api.url}/ui/compare")
    wait_for(lambda: len(page.find_elements(By.CSS_SELECTOR, "#candidates tr[data-experiment-id]")) == 2,
             what="the two finished runs to pick from")
    assert not page.find_elements(By.CSS_SELECTOR, f"#candidates tr[data-experiment-id='{waiting['id']}']")
    for exp in (cnn, mini):
        page.find_element(By.CSS_SELECTOR, f"#candidates tr[data-experiment-id='{exp['id']}'] input").click()
    page.find_element(By.ID, "compare-button").click()
    wait_for(lambda: page.find_elements(By.CSS_SELECTOR, "#metrics-table tr[data-metric='accuracy'] td"), what="the comparison")
    assert urlsplit(page.current_url).query == f"ids={cnn['id']},{mini['id']}"

    def cells(selector: str) -> list[tuple[str, bool]]:
        return [(c.text, "best" in c.get_attribute("class")) for c in page.find_elements(By.CSS_SELECTOR, f"{selector} td")]

    assert cells("#metrics-table tr[data-metric='accuracy']") == [("0.6200", True), ("0.5800", False)]
    assert cells("#metrics-table tr[data-metric='inference_ms']") == [("1.50 ms", False), ("0.70 ms", True)]  # lower wins
    f1 = f"{PER_CLASS['Happy']['f1']:.4f}"
    assert [t for t, _ in cells("#per-class-table tr[data-class='Happy']")] == [f1, f1]
    assert len(page.find_elements(By.CSS_SELECTOR, "#per-class-table tbody tr")) == 7
    screenshot(page, screenshots, "compare")
    page.set_window_size(390, 844)
    try:
        assert fits_width(page)
    finally:
        page.set_window_size(1280, 900)

    # An unfinished run is named, not shown as zeros.
    page.get(f"{ui_api.url}/ui/compare?ids={cnn['id']},{waiting['id']}")
    wait_for(lambda: "vgg19" in page.find_element(By.ID, "notice").text, what="the note on the queued run")
    assert "queued" in page.find_element(By.ID, "notice").text
    assert console_errors(page) == []


def _offline_only(urls: list[str], api: LiveApi) -> list[str]:
    """The requests that left the API server (none may)."""
    return [u for u in urls if not u.startswith((api.url, "data:", "blob:", "about:"))]


def test_docs_and_redoc_render_their_operations_offline(page: webdriver.Chrome, ui_api: LiveApi, screenshots: Path) -> None:
    # The browser resolves no name but 127.0.0.1 (tests/ui/browser.py): a CDN asset could not load.
    page.get(f"{ui_api.url}/docs")
    operations = wait_for(lambda: page.find_elements(By.CSS_SELECTOR, ".opblock-summary-path") or None,
                          what="Swagger UI's operations")
    paths = {o.text.replace("\u200b", "") for o in operations}
    assert {"/experiments", "/experiments/{experiment_id}", "/leaderboard", "/health",
            "/experiments/{experiment_id}/plots"} <= paths, paths
    screenshot(page, screenshots, "docs")
    page.get(f"{ui_api.url}/redoc")
    wait_for(lambda: any("/leaderboard" in e.text for e in page.find_elements(By.CSS_SELECTOR, "[data-section-id]")),
             what="ReDoc's operations")
    assert _offline_only(requested_urls(page), ui_api) == []


def test_every_page_loads_nothing_from_outside_and_fits_a_phone(page: webdriver.Chrome, ui_api: LiveApi, db: str) -> None:
    (exp,) = submit(ui_api, {"model": "cnn-small", "dataset": "synthetic", "epochs": 1})
    for path in ("/", "/ui/leaderboard", "/ui/experiments", f"/ui/experiments/{exp['id']}", "/ui/submit", "/ui/compare"):
        for width in (1280, 390):
            page.set_window_size(width, 844)
            page.get(f"{ui_api.url}{path}")
            wait_for(lambda: page.execute_script("return document.readyState") == "complete", what=path)
            wait_for(lambda: page.find_element(By.ID, "notice").get_attribute("hidden") is not None
                     or page.find_element(By.ID, "notice").text, what=f"{path} settled")
            assert fits_width(page), f"{path} scrolls sideways at {width} px"
    page.set_window_size(1280, 900)
    assert _offline_only(requested_urls(page), ui_api) == []
    assert console_errors(page) == []
