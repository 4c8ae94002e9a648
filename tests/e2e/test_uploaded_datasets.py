"""Datasets that travel: two workers that share nothing but the services (each its own empty home and data
folder, as on two machines) train a dataset uploaded with `ferbench datasets upload FOLDER` to a real uvicorn
API; each downloads its cache from the real `mlflow server` once, by fingerprint, and later experiments on
that worker start without a download."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferbench.cli.main import main
from ferbench.services.mlflow_server import MlflowServer
from ferbench.services.redis_server import RedisServer
from ferbench.stack import migrate
from ferbench.testing.databases import postgres_database
from ferbench.testing.face_folders import write_face_folders
from ferbench.testing.live_api import LiveApi, live_api
from ferbench.testing.worker import WorkerProcess, service_env, start_worker

pytestmark = [pytest.mark.services, pytest.mark.slow]

SPEC = {"model": "cnn-small", "dataset": "travelled", "batch_size": 16, "epochs": 1}


@pytest.fixture(scope="module")
def stack(e2e_broker: RedisServer, mlflow_server: MlflowServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApi, list[WorkerProcess]]]:
    with postgres_database("e2e-upload") as database_url:
        api_home = tmp_path_factory.mktemp("upload-api")
        migrate(database_url, api_home / "logs")
        workers = []
        try:
            for i in (1, 2):
                home = tmp_path_factory.mktemp(f"upload-worker-{i}")
                env = service_env(home=home, database_url=database_url, broker_url=e2e_broker.url,
                                  tracking_uri=mlflow_server.url)
                workers.append(start_worker(env, home / "worker.log", broker_url=e2e_broker.url))
            with live_api(home=api_home, database_url=database_url, broker_url=e2e_broker.url,
                          extra_env={"MLFLOW_TRACKING_URI": mlflow_server.url}) as api:
                yield api, workers
        finally:
            for worker in workers:
                worker.stop()


def run_two(api: LiveApi) -> list[dict[str, Any]]:
    submitted = httpx.post(f"{api.url}/experiments", json={**SPEC, "repeats": 2}, timeout=30)
    assert submitted.status_code == 202, submitted.text
    ids = [e["id"] for e in submitted.json()]
    deadline = time.monotonic() + 600
    while True:
        rows = [httpx.get(f"{api.url}/experiments/{i}", timeout=30).json() for i in ids]
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(1)


def test_an_uploaded_dataset_trains_on_two_workers_that_share_nothing_but_the_services(
        stack: tuple[LiveApi, list[WorkerProcess]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api, workers = stack
    folder = write_face_folders(tmp_path, "lab-faces", n=210)
    main(["datasets", "upload", str(folder), "--name", "travelled", "--json", "--api-url", api.url])
    answer = json.loads(capsys.readouterr().out)
    assert answer["created"] is True and answer["report"]["images"] == 210
    fingerprint = answer["dataset"]["fingerprint"]
    listed = {d["name"]: d for d in httpx.get(f"{api.url}/datasets", timeout=30).json()}
    assert listed["travelled"]["origin"] == "uploaded"
    for worker in workers:  # nothing of it on either worker's host yet
        assert not (worker.log_path.parent / "data" / "lab-faces").exists()

    first = run_two(api)
    assert [r["status"] for r in first] == ["succeeded", "succeeded"], [r.get("error") for r in first]
    logs = [w.log() for w in workers]
    assert all(any(f"claimed experiment {r['id']}" in log for r in first) for log in logs)  # one each
    assert all(f"fingerprint {fingerprint}): downloaded" in log for log in logs)
    for worker in workers:
        assert (worker.log_path.parent / "dataset-pool" / f"{fingerprint}.fbcache").is_file()
    second = run_two(api)
    assert [r["status"] for r in second] == ["succeeded", "succeeded"]
    logs = [w.log() for w in workers]
    assert all(log.count(f"fingerprint {fingerprint}): downloaded") == 1 for log in logs)  # no second download
    assert sum(log.count(f"fingerprint {fingerprint}): already on this host") for log in logs) == 2
    # Every run trained on the very data (and split) the upload's report describes.
    assert {r["split_fingerprint"] for r in first + second} == {answer["report"]["split_fingerprint"]}
