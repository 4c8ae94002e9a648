"""Real service processes for the end-to-end tests: a PostgreSQL database of their own, migrations, a Celery worker.

The worker is the documented command line, started as a subprocess with the environment pointing
at the test's broker, database, tracking server and state folder; it is never run in eager mode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ferbench.db.backends import postgres_database as shared_postgres_database

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("FERBENCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A uniquely named database, created for the caller and dropped afterwards; yields its SQLAlchemy URL."""
    with shared_postgres_database("e2e", PG_ADMIN_URL) as url:
        yield url


def service_env(*, home: Path, database_url: str, broker_url: str, tracking_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FERBENCH_HOME=str(home),
        FERBENCH_DATA_DIR=str(home / "data"),
        FERBENCH_DATABASE_URL=database_url,
        FERBENCH_BROKER_URL=broker_url,
        MLFLOW_TRACKING_URI=tracking_uri,
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        PYTHONUNBUFFERED="1",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "ferbench.cli.main", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ferbench db upgrade failed:\n{done.stdout}\n{done.stderr}"


@dataclass
class Service:
    """What a test gets: the API client, the worker process, the settings and the tracking URI."""

    client: Any  # fastapi.testclient.TestClient
    worker: WorkerProcess
    settings: Any  # ferbench.settings.Settings
    tracking_uri: str
    backend: str


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Warm shutdown first, then the whole process group (the pool child included)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


def start_worker(env: dict[str, str], log_path: Path, *, broker_url: str, timeout_s: float = 90.0) -> WorkerProcess:
    """The documented worker command; returns once it answers a Celery ping."""
    from celery import Celery

    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", "gpu", "-c", "1",
               "--max-tasks-per-child=1", "-P", "prefork", "--loglevel=INFO", "-n", f"e2e-{uuid.uuid4().hex[:6]}@%h"]
    log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the child's lifetime
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    worker = WorkerProcess(process, log_path)
    probe = Celery(broker=broker_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert process.poll() is None, f"worker exited with {process.returncode}:\n{worker.log()[-3000:]}"
            if probe.control.ping(timeout=0.5):
                return worker
        worker.stop()
        raise AssertionError(f"worker did not answer a ping within {timeout_s} s:\n{worker.log()[-3000:]}")
    finally:
        probe.close()
