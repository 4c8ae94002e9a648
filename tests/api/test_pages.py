"""The pages' HTTP side without a browser: shells, assets, CSP, offline docs, and the MLflow plot proxy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import STATIC_DIR
from ferbench.db import lifecycle
from ferbench.db.session import make_session_factory
from ferbench.services.mlflow_server import MlflowServer
from tests.api.conftest import MakeClient

PAGES = ("/", "/ui/leaderboard", "/ui/experiments", "/ui/experiments/abc", "/ui/submit", "/ui/compare")
TEMPLATES = Path(STATIC_DIR).parent / "templates"


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_shells_under_a_strict_csp(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    assert "/static/js/common.js" in answer.text and "/static/css/app.css" in answer.text


def test_every_asset_is_served_by_the_api_and_nothing_points_outside(client: TestClient) -> None:
    files = [p for p in (*TEMPLATES.glob("*.html"), *STATIC_DIR.rglob("*")) if p.is_file()]
    for path in files:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path  # no CDN, no outside link in markup
        assert "<script>" not in text and " style=\"" not in text, path  # nothing inline: the CSP forbids it
    for asset in STATIC_DIR.rglob("*.*"):
        served = client.get(f"/static/{asset.relative_to(STATIC_DIR)}")
        assert served.status_code == 200 and served.content == asset.read_bytes(), asset


def test_the_api_docs_use_assets_from_the_wheel_not_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "cdn" not in page.text.lower() and "googleapis" not in page.text
        assets = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text)
        assert assets and all(a.startswith("/static-offline-docs/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert "img-src 'self' data: blob:" in page.headers["content-security-policy"]
    assert '"validatorUrl": null' in client.get("/docs").text  # no schema sent to an outside validator
    assert "/experiments/{experiment_id}/plots/{name}" in client.get("/openapi.json").json()["paths"]


def _finished_with_run(client: TestClient, db_url: str, run_id: str | None) -> str:
    exp = client.post("/experiments", json={"model": "cnn-small", "dataset": "synthetic", "epochs": 1}).json()
    session = make_session_factory(db_url)()
    try:
        lifecycle.claim_experiment(session, exp["id"])
        lifecycle.finish_experiment(session, exp["id"], lifecycle.ResultRecord(
            metrics={"accuracy": 0.5}, split_fingerprint="fp", mlflow_run_id=run_id))
    finally:
        session.close()
    return exp["id"]


def _run_with_plots(tracking_uri: str, folder: Path) -> tuple[str, bytes]:
    from mlflow.tracking import MlflowClient
    from PIL import Image

    client = MlflowClient(tracking_uri)
    run = client.create_run(client.create_experiment(f"plots-{folder.name}"))
    png = folder / "confusion_matrix.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(png)
    (folder / "notes.txt").write_text("not a plot")
    client.log_artifact(run.info.run_id, str(png), "plots")
    client.log_artifact(run.info.run_id, str(folder / "notes.txt"), "plots")
    return run.info.run_id, png.read_bytes()


def test_plots_are_listed_and_proxied_from_the_tracking_server(make_client: MakeClient, db_url: str,
                                                               mlflow_server: MlflowServer, tmp_path: Path) -> None:
    client = make_client(mlflow_tracking_uri=mlflow_server.url)
    run_id, png = _run_with_plots(mlflow_server.url, tmp_path)
    exp_id = _finished_with_run(client, db_url, run_id)

    listed = client.get(f"/experiments/{exp_id}/plots").json()
    assert listed == {"experiment_id": exp_id, "mlflow_run_id": run_id, "plots": [
        {"name": "confusion_matrix.png", "url": f"/experiments/{exp_id}/plots/confusion_matrix.png"}]}
    image = client.get(listed["plots"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == png

    # Only names the run lists: no other artifact, no path of the client's choosing.
    for name in ("notes.txt", "missing.png", "..%2Fmodel.png", "..%2F..%2Fetc%2Fpasswd"):
        assert client.get(f"/experiments/{exp_id}/plots/{name}").status_code == 404, name
    assert client.get("/experiments/nope/plots").status_code == 404
    no_run = _finished_with_run(client, db_url, None)
    assert client.get(f"/experiments/{no_run}/plots").json()["plots"] == []
    assert client.get(f"/experiments/{no_run}/plots/confusion_matrix.png").status_code == 404
    elsewhere = _finished_with_run(client, db_url, "0" * 32)  # a run id the tracking server never had
    for path in (f"/experiments/{elsewhere}/plots", f"/experiments/{elsewhere}/plots/confusion_matrix.png"):
        answer = client.get(path)
        assert answer.status_code == 404 and "has no run" in answer.json()["detail"], answer.text


def test_a_tracking_server_outage_is_503_without_a_trace(make_client: MakeClient, db_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = make_client(mlflow_tracking_uri="http://127.0.0.1:9")
    exp_id = _finished_with_run(client, db_url, "0123456789abcdef")
    for path in (f"/experiments/{exp_id}/plots", f"/experiments/{exp_id}/plots/confusion_matrix.png"):
        answer = client.get(path)
        assert answer.status_code == 503 and "tracking server" in answer.json()["detail"], answer.text
        assert "Traceback" not in answer.text and "127.0.0.1:9" not in answer.text
