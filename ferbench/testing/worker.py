"""A real Celery worker for the end-to-end and fault tests: the documented command line, as a subprocess.

The environment points it at the caller's broker, database, tracking server and state folder; it is
never run in eager mode.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from ferbench.services.process_group import stop_group
from ferbench.services.readiness import exited, wait_until
from ferbench.stack import worker_command, workers_answering

ROOT = Path(__file__).resolve().parents[2]


def service_env(*, home: Path, database_url: str, broker_url: str, tracking_uri: str) -> dict[str, str]:
    """The environment of a worker or an API process on the given services, on CPU, with TensorFlow quiet."""
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


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Warm shutdown first, then the whole process group (the pool child included)."""
        stop_group(self.process, 20)


def start_worker(env: dict[str, str], log_path: Path, *, broker_url: str, timeout_s: float = 90.0) -> WorkerProcess:
    """The documented worker command; returns once it answers a Celery ping."""
    command = worker_command(name=f"e2e-{uuid.uuid4().hex[:6]}")
    log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the child's lifetime
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    worker = WorkerProcess(process, log_path)
    try:
        wait_until(lambda: workers_answering(broker_url, timeout_s=0.5), timeout_s=timeout_s, what="the worker's ping",
                   died=exited(process, "worker", log_path, lines=40), error=AssertionError, interval_s=0)
    except BaseException:
        worker.stop()
        raise
    return worker
