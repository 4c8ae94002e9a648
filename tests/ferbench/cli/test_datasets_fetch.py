"""`ferbench datasets fetch fer2013` against a stand-in for Kaggle's REST API on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fer_models.data.catalog import list_datasets
from ferbench.kaggle_fetch import find_credentials
from ferbench.services.ports import free_port
from ferbench.testing.face_folders import write_face_folders

ROOT = Path(__file__).resolve().parents[3]
USER, KEY = "ada", "0123456789abcdef"


def kaggle_zip(tmp: Path) -> bytes:
    """FER2013 as Kaggle ships it: train/<emotion>/ and test/<emotion>/ images in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split, n in (("train", 70), ("test", 28)):
            root = write_face_folders(tmp / split, "faces", n=n, seed=len(split))
            for image in sorted(root.rglob("*.png")):
                archive.write(image, f"{split}/{image.parent.name}/{image.name}")
    return buffer.getvalue()


@dataclass
class StandIn:
    url: str
    archive: bytes
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)


@pytest.fixture
def kaggle(tmp_path: Path) -> Iterator[StandIn]:
    stand_in = StandIn(url="", archive=kaggle_zip(tmp_path / "src"))
    expected = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            stand_in.requests.append((self.path, self.headers.get("Authorization")))
            if self.path == "/api/v1/datasets/download/msambare/fer2013":
                if self.headers.get("Authorization") != expected:
                    self._answer(401, b'{"code": 401, "message": "Unauthenticated"}')
                    return
                # As Kaggle does: a redirect to the file store, which wants no Kaggle credentials.
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/store/fer2013.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/store/fer2013.zip":
                self._answer(200, stand_in.archive, "application/zip")
            else:
                self._answer(404, b"{}")

        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def run_fetch(tmp_path: Path, api_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    clean.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
                 FERBENCH_HOME=str(tmp_path / "var"), FERBENCH_DATA_DIR=str(tmp_path / "data"),
                 FERBENCH_KAGGLE_API_URL=api_url, **env)
    return subprocess.run([sys.executable, "-m", "ferbench.cli.main", "datasets", "fetch", "fer2013", *args],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_fetch_downloads_the_kaggle_zip_where_the_catalogue_finds_it(tmp_path: Path, kaggle: StandIn) -> None:
    done = run_fetch(tmp_path, kaggle.url, KAGGLE_USERNAME=USER, KAGGLE_KEY=KEY)
    assert done.returncode == 0, done.stderr
    target = tmp_path / "data" / "fer2013.zip"
    assert target.read_bytes() == kaggle.archive and f"Downloaded fer2013 to {target}" in done.stdout
    assert [p for p, _ in kaggle.requests] == ["/api/v1/datasets/download/msambare/fer2013", "/store/fer2013.zip"]
    assert kaggle.requests[1][1] is None  # the credentials stay with Kaggle: not sent to the file store's host
    (info,) = [i for i in list_datasets(tmp_path / "data", tmp_path / "var" / "cache") if i.name == "fer2013"]
    assert info.present and info.source and "fer2013.zip" in info.source
    assert list((tmp_path / "data").iterdir()) == [target]  # no partial file left behind

    again = run_fetch(tmp_path, kaggle.url, KAGGLE_USERNAME=USER, KAGGLE_KEY=KEY)
    assert again.returncode == 0 and "already present" in again.stdout and len(kaggle.requests) == 2


def test_credentials_come_from_kaggle_json_like_kaggles_own_tools(tmp_path: Path, kaggle: StandIn) -> None:
    config = tmp_path / "kaggle-config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": USER, "key": KEY}))
    done = run_fetch(tmp_path, kaggle.url, KAGGLE_CONFIG_DIR=str(config))
    assert done.returncode == 0, done.stderr
    home = tmp_path / "h"
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "u", "key": "k"}))
    found = find_credentials({}, home)
    assert found is not None and (found.username, found.key) == ("u", "k")
    assert find_credentials({}, tmp_path / "nobody") is None


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_without_credentials_one_line_says_what_to_do(tmp_path: Path, kaggle: StandIn) -> None:
    line = _one_line_error(run_fetch(tmp_path, kaggle.url))
    assert "no Kaggle credentials" in line and "kaggle.json" in line and "KAGGLE_USERNAME" in line
    assert "https://www.kaggle.com/datasets/msambare/fer2013" in line and kaggle.requests == []


def test_refused_credentials_and_a_bad_token_file_are_one_line(tmp_path: Path, kaggle: StandIn) -> None:
    line = _one_line_error(run_fetch(tmp_path, kaggle.url, KAGGLE_USERNAME=USER, KAGGLE_KEY="wrong"))
    assert "refused" in line and "HTTP 401" in line and "wrong" not in line
    assert not (tmp_path / "data" / "fer2013.zip").exists()
    config = tmp_path / "broken"
    config.mkdir()
    (config / "kaggle.json").write_text("{not json")
    assert "is not a Kaggle token" in _one_line_error(run_fetch(tmp_path, kaggle.url, KAGGLE_CONFIG_DIR=str(config)))


def test_a_network_error_is_one_line(tmp_path: Path) -> None:
    line = _one_line_error(run_fetch(tmp_path, f"http://127.0.0.1:{free_port()}/api/v1",
                                     KAGGLE_USERNAME=USER, KAGGLE_KEY=KEY))
    assert "could not reach Kaggle at 127.0.0.1" in line and "check the network" in line
    assert not list((tmp_path / "data").glob("*fer2013.zip*"))  # neither the zip nor a partial one
