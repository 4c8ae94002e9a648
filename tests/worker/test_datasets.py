"""worker/datasets.py: before training, an uploaded dataset's cache comes from the tracking server by fingerprint,
once per host; a local dataset needs nothing; a bad download or an unreachable server fails with the reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fer_models.errors import DatasetError, FerBenchError
from fer_models.tracking.dataset_store import store_cache
from fer_models.tracking.uri import sqlite_store_uri
from ferbench.db.migrate import upgrade
from ferbench.db.models import UploadedDataset
from ferbench.db.session import make_session_factory
from ferbench.settings import Settings, get_settings
from worker.datasets import uploaded_dataset_file


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, bytes]:
    database_url = f"sqlite:///{tmp_path / 'ferbench.db'}"
    upgrade(database_url)
    monkeypatch.setenv("FERBENCH_DATABASE_URL", database_url)  # the worker's records read it, as in a worker
    get_settings.cache_clear()
    tracking_uri = sqlite_store_uri(tmp_path / "mlflow")
    cache = tmp_path / "upload.fbcache"
    cache.write_bytes(b"cache bytes " * 1000)
    digest = hashlib.sha256(cache.read_bytes()).hexdigest()
    stored = store_cache(tracking_uri, cache, name="lab", fingerprint="ab12" * 8, sha256=digest)
    with make_session_factory(database_url)() as session:
        session.add(UploadedDataset(name="lab", fingerprint="ab12" * 8, kind="zip", filename="lab.zip",
                                    upload_bytes=1, cache_bytes=cache.stat().st_size, cache_sha256=digest,
                                    mlflow_run_id=stored.run_id, artifact_path=stored.artifact_path,
                                    split_sizes={}, report={}))
        session.commit()
    settings = Settings(home=tmp_path / "worker-home", database_url=database_url, mlflow_tracking_uri=tracking_uri)
    return settings, cache.read_bytes()


def test_downloaded_once_per_host_then_found_there(registered: tuple[Settings, bytes]) -> None:
    settings, content = registered
    first = uploaded_dataset_file("lab", settings)
    again = uploaded_dataset_file("lab", settings)
    assert first is not None and again is not None
    assert first.downloaded and not again.downloaded
    assert first.path.parent == settings.dataset_pool_dir and first.path.read_bytes() == content


def test_a_local_dataset_needs_no_download(registered: tuple[Settings, bytes]) -> None:
    settings, _ = registered
    assert uploaded_dataset_file("synthetic", settings) is None
    assert not settings.dataset_pool_dir.exists()


def test_a_download_that_does_not_match_the_registered_checksum_fails_the_experiment(
        registered: tuple[Settings, bytes]) -> None:
    settings, _ = registered
    with make_session_factory(settings.resolved_database_url)() as session:
        session.get(UploadedDataset, "lab").cache_sha256 = "0" * 64
        session.commit()
    with pytest.raises(DatasetError, match="upload the dataset again"):
        uploaded_dataset_file("lab", settings)


def test_no_tracking_server_is_a_clear_failure(registered: tuple[Settings, bytes],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = registered
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries would take minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with pytest.raises(FerBenchError, match="MLFLOW_TRACKING_URI"):
        uploaded_dataset_file("lab", settings.model_copy(update={"mlflow_tracking_uri": None}))
    with pytest.raises(FerBenchError, match="tracking server did not answer"):
        uploaded_dataset_file("lab", settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"}))
    assert not list(settings.dataset_pool_dir.glob("*.fbcache"))
