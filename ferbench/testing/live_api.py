"""The API as a real uvicorn process on a free port, for tests and benchmarks that need real concurrency and logs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ferbench.services.ports import free_port
from ferbench.services.process_group import stop_group
from ferbench.services.readiness import exited, wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveApi:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def live_api(*, home: Path, database_url: str, broker_url: str, log_level: str = "info", access_log: bool = True,
             extra_env: dict[str, str] | None = None, timeout_s: float = 60.0) -> Iterator[LiveApi]:
    """`uvicorn api.main:create_app --factory` with the environment pointing at the given services; its output
    goes to `home/uvicorn-<port>.log`."""
    port = free_port()
    env = {**os.environ, "FERBENCH_HOME": str(home), "FERBENCH_DATA_DIR": str(home / "data"),
           "FERBENCH_DATABASE_URL": database_url, "FERBENCH_BROKER_URL": broker_url,
           "MLFLOW_TRACKING_URI": str(home / "mlruns"), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log_path = home / f"uvicorn-{port}.log"
    command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", log_level, "--no-server-header", *([] if access_log else ["--no-access-log"])]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    api = LiveApi(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until(lambda: httpx.get(f"{api.url}/models", timeout=1).status_code < 500, timeout_s=timeout_s,
                   what=f"uvicorn at {api.url}", died=exited(process, "uvicorn", log_path, lines=40), error=AssertionError,
                   retry_on=(httpx.TransportError,), interval_s=0.1)
        yield api
    finally:
        stop_group(process, 15)
