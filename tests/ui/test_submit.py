"""The submission form in a browser: built from the catalogue, the server's 422s beside their fields, queued
experiments linked; with API keys, the key is asked for, kept in sessionStorage and never put in a URL or a log."""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ferbench.testing.live_api import LiveApi
from tests.ui.browser import console_errors, fits_width, requested_urls, screenshot, wait_for
from tests.ui.conftest import finish, submit

KEY = "page-key-0123456789"  # FERBENCH_API_KEYS of ui_api_with_keys


def _type(page: webdriver.Chrome, element_id: str, text: str) -> None:
    box = page.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def _errors(page: webdriver.Chrome) -> dict[str, str]:
    return {e.get_attribute("data-error-for"): e.text for e in page.find_elements(By.CSS_SELECTOR, ".field-error")}


def _queued(page: webdriver.Chrome) -> list[str]:
    return [li.get_attribute("data-experiment-id") for li in page.find_elements(By.CSS_SELECTOR, "#queued-list li")]


def _open_form(page: webdriver.Chrome, api: LiveApi) -> None:
    page.get(f"{api.url}/ui/submit")
    wait_for(lambda: page.find_elements(By.ID, "f-epochs") and page.find_elements(By.ID, "f-hyperparameters-dropout"),
             what="the form built from the catalogue")


def test_bad_values_are_marked_by_the_server_then_a_good_spec_is_queued(page: webdriver.Chrome, ui_api: LiveApi, db: str,
                                                                         screenshots: Path) -> None:
    _open_form(page, ui_api)
    # The hyperparameter fields are the chosen model's.
    Select(page.find_element(By.ID, "model")).select_by_value("vgg19")
    wait_for(lambda: page.find_elements(By.ID, "f-hyperparameters-trainable_base"), what="vgg19's hyperparameters")
    assert not page.find_elements(By.ID, "f-hyperparameters-filters")
    Select(page.find_element(By.ID, "model")).select_by_value("cnn-small")
    wait_for(lambda: page.find_elements(By.ID, "f-hyperparameters-filters"), what="cnn-small's hyperparameters")
    assert page.find_element(By.ID, "f-epochs").get_attribute("value") == "10"  # the server's default

    _type(page, "f-epochs", "0")
    _type(page, "f-hyperparameters-dropout", "7")
    page.find_element(By.ID, "submit-button").click()
    errors = wait_for(lambda: _errors(page) if len(_errors(page)) == 2 else None, what="two field messages")
    assert "1" in errors["epochs"] and "500" in errors["epochs"], errors  # the range in force on this server
    assert "0.9" in errors["hyperparameters.dropout"], errors
    assert "invalid" in page.find_element(By.CSS_SELECTOR, ".field[data-field='epochs']").get_attribute("class")
    assert _queued(page) == []
    screenshot(page, screenshots, "submit-errors")

    _type(page, "f-epochs", "2")
    _type(page, "f-repeats", "2")
    _type(page, "f-hyperparameters-dropout", "0.25")
    page.find_element(By.ID, "submit-button").click()
    ids = wait_for(lambda: _queued(page) if len(_queued(page)) == 2 else None, what="two queued experiments")
    assert _errors(page) == {}
    for exp_id in ids:
        exp = httpx.get(f"{ui_api.url}/experiments/{exp_id}", timeout=10).json()
        assert exp["status"] == "queued" and exp["spec"]["epochs"] == 2 and exp["spec"]["hyperparameters"]["dropout"] == 0.25
    assert sorted(httpx.get(f"{ui_api.url}/experiments/{i}", timeout=10).json()["seed"] for i in ids) == [0, 1]
    screenshot(page, screenshots, "submit-queued")
    page.find_element(By.CSS_SELECTOR, f"#queued-list li[data-experiment-id='{ids[0]}'] a").click()
    wait_for(lambda: page.current_url.endswith(f"/ui/experiments/{ids[0]}"), what="the queued experiment's page")
    assert console_errors(page, answered=(422,)) == []


def test_the_form_fits_a_phone(page: webdriver.Chrome, ui_api: LiveApi) -> None:
    page.set_window_size(390, 844)
    try:
        _open_form(page, ui_api)
        assert fits_width(page)
    finally:
        page.set_window_size(1280, 900)


def test_writes_ask_for_a_key_kept_in_session_storage_and_never_in_urls_or_logs(
        page: webdriver.Chrome, ui_api_with_keys: LiveApi, db: str) -> None:
    _open_form(page, ui_api_with_keys)  # reads stay open: the form builds without a key
    _type(page, "f-epochs", "1")
    page.find_element(By.ID, "submit-button").click()
    wait_for(lambda: page.find_element(By.ID, "key-dialog").is_displayed(), what="the key dialog")
    assert "needs an API key" in page.find_element(By.ID, "key-reason").text
    page.find_element(By.ID, "key-input").send_keys("wrong-key")
    page.find_element(By.CSS_SELECTOR, "#key-form button[value='save']").click()
    wait_for(lambda: "not accepted" in page.find_element(By.ID, "key-reason").text, what="the wrong key refused")
    page.find_element(By.ID, "key-input").send_keys(KEY)
    page.find_element(By.CSS_SELECTOR, "#key-form button[value='save']").click()
    (exp_id,) = wait_for(lambda: _queued(page) or None, what="the experiment queued with the key")
    assert page.execute_script("return sessionStorage.getItem('ferbench-api-key')") == KEY
    assert page.execute_script("return localStorage.length") == 0 and page.get_cookies() == []

    # The next write (cancel, on another page of the same tab) sends the stored key without asking.
    page.get(f"{ui_api_with_keys.url}/ui/experiments/{exp_id}")
    wait_for(lambda: page.find_element(By.ID, "cancel").is_displayed(), what="the cancel button")
    page.find_element(By.ID, "cancel").click()
    wait_for(lambda: "Cancellation requested" in page.find_element(By.ID, "notice").text, what="cancelled with the stored key")
    assert not page.find_element(By.ID, "key-dialog").is_displayed()

    urls = requested_urls(page)
    assert urls and not [u for u in urls if KEY in u or "wrong-key" in u]
    assert KEY not in page.current_url
    log = ui_api_with_keys.log()
    assert "POST /experiments HTTP/1.1\" 202" in log and KEY not in log and "wrong-key" not in log


def test_when_reads_need_the_key_a_page_asks_once_then_shows_its_data(page: webdriver.Chrome, ui_api_closed: LiveApi,
                                                                       db: str) -> None:
    (exp,) = submit(ui_api_closed, {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}, key=KEY)
    finish(db, exp["id"], 0.5)
    page.get(f"{ui_api_closed.url}/")  # three reads at once are refused: one prompt answers them all
    wait_for(lambda: page.find_element(By.ID, "key-dialog").is_displayed(), what="the key dialog")
    page.find_element(By.ID, "key-input").send_keys(KEY)
    page.find_element(By.CSS_SELECTOR, "#key-form button[value='save']").click()
    wait_for(lambda: page.find_elements(By.CSS_SELECTOR, f"#board tr[data-experiment-id='{exp['id']}']"), what="the row")
    assert not page.find_element(By.ID, "key-dialog").is_displayed()
    assert [o.get_attribute("value") for o in page.find_elements(By.CSS_SELECTOR, "#f-model option")][1:3] == \
        ["cnn-small", "cnn-medium"]  # the catalogue came through too
    assert console_errors(page, answered=(401,)) == []
