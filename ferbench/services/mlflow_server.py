"""A local `mlflow server` for `ferbench up` and the tests: sqlite store, served artifacts, clean stop.

The sqlite store is created and migrated in this process BEFORE the server starts: several processes
opening a brand-new store at once race on its migrations (DESIGN.md, known traps).

A sqlite store is a local file, so its artifacts are local files too, beside it (`local_artifact_dir`):
runs name them by file URI, not `mlflow-artifacts:/`, which resolves only through a running server.
So `ferbench evaluate` and `visualize`, which open the store file, read (and add) artifacts of runs the
service logged, whether or not the server still runs. Other stores keep served artifacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from fer_models.errors import FerBenchError
from fer_models.tracking.uri import local_artifact_dir, local_artifact_root, sqlite_store_uri
from ferbench.services.ports import free_port
from ferbench.services.process_group import GroupLeader
from ferbench.services.readiness import exited, wait_until


class MlflowServerError(FerBenchError):
    """The MLflow tracking server could not be prepared or started."""


SERVED_ARTIFACTS_ROOT = "mlflow-artifacts:/"


def prepare_store(backend_uri: str, default_artifact_root: str = SERVED_ARTIFACTS_ROOT) -> None:
    """Create and migrate a store (sqlite or a database URL) once (idempotent), so concurrent openers find it ready.

    `default_artifact_root` is where the default experiment's artifacts go: the served-artifacts
    proxy for a tracking server.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # The store's constructor creates missing tables and refuses an un-migrated schema; run the
    # migrations first when the file exists but is old.
    try:
        store = SqlAlchemyStore(backend_uri, default_artifact_root)
    except Exception:  # an out-of-date schema: migrate it, then open it again
        from mlflow.store.db.utils import _upgrade_db, create_sqlalchemy_engine_with_retry

        engine = create_sqlalchemy_engine_with_retry(backend_uri)
        _upgrade_db(engine)
        engine.dispose()
        store = SqlAlchemyStore(backend_uri, default_artifact_root)
    store.engine.dispose()


def health_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:  # noqa: S310 (local URL)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class MlflowServer(GroupLeader):
    """A running `mlflow server` child process; `url` is its tracking URI; `stop()` ends its process group
    (uvicorn/gunicorn workers included)."""

    stop_grace_s: ClassVar[float] = 15.0

    host: str
    port: int
    state_dir: Path
    store_uri: str | None = None  # the backend store; None: a sqlite file under state_dir
    process: subprocess.Popen[bytes] | None = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def backend_uri(self) -> str:
        return self.store_uri or sqlite_store_uri(self.state_dir)

    @property
    def artifacts_dir(self) -> Path:
        return local_artifact_dir(self.backend_uri) or self.state_dir / "artifacts"

    @property
    def default_artifact_root(self) -> str:
        return local_artifact_root(self.backend_uri) or SERVED_ARTIFACTS_ROOT


def find_mlflow_binary() -> list[str]:
    """The `mlflow` next to this interpreter (the venv's), else on PATH, else `python -m mlflow`."""
    beside = Path(sys.executable).with_name("mlflow")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mlflow")
    return [found] if found else [sys.executable, "-m", "mlflow"]


def start_mlflow_server(
    state_dir: Path,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    store_uri: str | None = None,
    timeout: float = 60.0,
) -> MlflowServer:
    """Start `mlflow server` with its store (default: sqlite) and artifacts under `state_dir`; wait for GET /health.

    The store is created and migrated before the server starts. Raises MlflowServerError with the
    log's last lines when the server exits or does not answer in time.
    """
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    server = MlflowServer(host=host, port=port or free_port(host), state_dir=state_dir, store_uri=store_uri)
    server.artifacts_dir.mkdir(parents=True, exist_ok=True)
    try:
        prepare_store(server.backend_uri, server.default_artifact_root)
    except Exception as exc:
        raise MlflowServerError(f"could not create the MLflow store {server.backend_uri}: {exc}") from exc
    args = [
        *find_mlflow_binary(), "server",
        "--backend-store-uri", server.backend_uri,
        "--default-artifact-root", server.default_artifact_root,
        "--artifacts-destination", str(server.artifacts_dir),
        "--serve-artifacts",
        "--host", host,
        "--port", str(server.port),
        "--workers", "1",
    ]
    log_path = state_dir / "mlflow-server.log"
    log = open(log_path, "ab")  # noqa: SIM115 (the child owns it)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # The server's background job runner (huey consumers: several processes, ~250 MB each) serves
    # MLflow's GenAI jobs, which FER Bench never submits; it also delays shutdown.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    server.process = process
    log.close()
    died = exited(process, f"mlflow server on port {server.port}", log_path, lines=5, sep=" | ")
    try:
        wait_until(lambda: health_ok(server.url), timeout_s=timeout, died=died, error=MlflowServerError,
                   what=f"the mlflow server at {server.url}/health (log: {log_path})")
    except BaseException:
        server.stop()
        raise
    return server
