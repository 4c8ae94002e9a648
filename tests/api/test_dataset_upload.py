"""POST /datasets and GET /datasets on the real app, with a real MLflow store holding the uploaded caches."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fer_models.tracking.dataset_store import EXPERIMENT, StoredCache, download_cache
from fer_models.tracking.uri import sqlite_store_uri
from ferbench.testing.face_folders import write_face_folders

MakeClient = Callable[..., TestClient]


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_store_uri(tmp_path_factory.mktemp("upload-mlflow"))


def zipped_faces(folder: Path, *, n: int = 140, seed: int = 0) -> bytes:
    """A folder of emotion-named subfolders packed as a zip, as `ferbench datasets upload FOLDER` sends it."""
    root = write_face_folders(folder, "faces", n=n, seed=seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*.png")):
            archive.write(path, path.relative_to(root.parent).as_posix())
    return buffer.getvalue()


@pytest.fixture
def api(make_client: MakeClient, tracking_uri: str) -> TestClient:
    return make_client(mlflow_tracking_uri=tracking_uri, max_upload_bytes=2_000_000)


def upload(client: TestClient, content: bytes, filename: str = "faces.zip", name: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/datasets", files={"file": (filename, content, "application/zip")},
                       data={"name": name} if name else {})


def uploaded_runs(tracking_uri: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return 0 if experiment is None else len(client.search_runs([experiment.experiment_id]))


def test_upload_registers_the_decoded_cache_and_lists_it(api: TestClient, tmp_path: Path, tracking_uri: str) -> None:
    response = upload(api, zipped_faces(tmp_path), name="lab-faces")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    assert body["dataset"]["name"] == "lab-faces" and body["dataset"]["origin"] == "uploaded"
    report = body["report"]
    assert report["images"] == 140 and sum(report["split_sizes"].values()) == 140
    assert report["source"] == "upload faces.zip"  # never the server's temporary path
    listed = {d["name"]: d for d in api.get("/datasets").json()}
    assert listed["lab-faces"]["usable_on"].startswith("every worker")
    assert listed["synthetic"]["origin"] == "built-in" and listed["fer2013"]["origin"] == "local"
    # The stored artifact is the decoded cache whose checksum the row promises.
    row = body["dataset"]
    from ferbench.db.session import make_session_factory
    from ferbench.db.uploaded_datasets import by_name

    with make_session_factory(api.app.state.resources.settings.resolved_database_url)() as session:
        stored = by_name(session, "lab-faces")
        assert stored is not None and stored.fingerprint == row["fingerprint"]
        local = download_cache(tracking_uri, StoredCache(stored.mlflow_run_id, stored.artifact_path), tmp_path / "dl")
        assert hashlib.sha256(local.read_bytes()).hexdigest() == stored.cache_sha256
        assert local.stat().st_size == stored.cache_bytes
    # An experiment may name it, although no folder of that name is on the server.
    accepted = api.post("/experiments", json={"model": "cnn-small", "dataset": "lab-faces", "epochs": 1})
    assert accepted.status_code == 202, accepted.text


def test_same_content_twice_is_one_dataset(api: TestClient, tmp_path: Path, tracking_uri: str) -> None:
    content = zipped_faces(tmp_path)
    assert upload(api, content, name="first").status_code == 201
    runs = uploaded_runs(tracking_uri)
    again = upload(api, content, name="second")
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["dataset"]["name"] == "first"
    assert "already registered as 'first'" in again.json()["message"]
    assert uploaded_runs(tracking_uri) == runs  # nothing stored twice
    names = [d["name"] for d in api.get("/datasets").json() if d["origin"] == "uploaded"]
    assert names == ["first"]


def test_the_same_content_uploaded_twice_at_once_is_one_dataset(api: TestClient, tmp_path: Path) -> None:
    content = zipped_faces(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: upload(api, content, name="racing"), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert len({a.json()["dataset"]["fingerprint"] for a in answers}) == 1
    assert [d["name"] for d in api.get("/datasets").json() if d["origin"] == "uploaded"] == ["racing"]


def test_name_clash_with_other_content_names_both_fingerprints(api: TestClient, tmp_path: Path) -> None:
    first = upload(api, zipped_faces(tmp_path / "a", seed=0), name="clash").json()["dataset"]["fingerprint"]
    refused = upload(api, zipped_faces(tmp_path / "b", seed=1), name="clash")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert first in detail and "this upload's fingerprint is " in detail
    assert detail.split("this upload's fingerprint is ")[1].split(":")[0] != first


def test_local_and_built_in_names_are_refused(api: TestClient, tmp_path: Path) -> None:
    refused = upload(api, zipped_faces(tmp_path), name="synthetic")
    assert refused.status_code == 409 and "taken by a local dataset" in refused.json()["detail"]


def test_over_size_upload_is_refused_before_it_is_stored(api: TestClient, tracking_uri: str) -> None:
    runs = uploaded_runs(tracking_uri)
    refused = upload(api, b"PK" + bytes(2_100_000), name="huge")
    assert refused.status_code == 413 and "2000000 bytes" in refused.json()["detail"]
    assert "FERBENCH_MAX_UPLOAD_BYTES" in refused.json()["detail"]
    assert uploaded_runs(tracking_uri) == runs
    assert all(d["name"] != "huge" for d in api.get("/datasets").json())


@pytest.mark.parametrize("mangle, status, words", [
    (lambda content: content[: len(content) // 2], 422, "not a readable zip archive"),
    (lambda content: content[:-30] + bytes(30), 422, "not a readable zip archive"),
])
def test_broken_archive_is_refused_and_nothing_registered(api: TestClient, tmp_path: Path, tracking_uri: str,
                                                          mangle: Callable[[bytes], bytes], status: int,
                                                          words: str) -> None:
    runs = uploaded_runs(tracking_uri)
    refused = upload(api, mangle(zipped_faces(tmp_path)), filename="broken.zip", name="broken")
    assert refused.status_code == status, refused.text
    assert words in refused.json()["detail"] and "broken.zip" in refused.json()["detail"]
    assert uploaded_runs(tracking_uri) == runs
    assert all(d["name"] != "broken" for d in api.get("/datasets").json())


def test_corrupt_member_and_wrong_layout_say_what_and_where(api: TestClient, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/readme.txt", "no faces here")
    refused = upload(api, buffer.getvalue(), filename="notes.zip")
    assert refused.status_code == 422
    assert "notes.zip" in refused.json()["detail"] and "Accepted layouts" in refused.json()["detail"]
    wrong = api.post("/datasets", files={"file": ("faces.tar", b"x", "application/x-tar")})
    assert wrong.status_code == 415 and ".zip" in wrong.json()["detail"] and ".csv" in wrong.json()["detail"]


def test_csv_upload_is_checked_like_a_local_csv(api: TestClient) -> None:
    bad = b"emotion,pixels,Usage\n3," + b" ".join([b"7"] * 10) + b",Training\n"
    refused = api.post("/datasets", files={"file": ("tiny.csv", bad, "text/csv")})
    assert refused.status_code == 422 and "tiny.csv" in refused.json()["detail"]
    pixels = b" ".join([b"7"] * 2304)
    rows = b"".join(b"%d,%s,Training\n" % (i % 7, pixels) for i in range(70))
    accepted = api.post("/datasets", files={"file": ("tiny.csv", b"emotion,pixels,Usage\n" + rows, "text/csv")})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["report"]["images"] == 70
