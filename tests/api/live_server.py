"""The API as a real uvicorn process on a free port, for tests that need real concurrency and real logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ferbench.services.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveApi:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def live_api(*, home: Path, database_url: str, broker_url: str, log_level: str = "info",
             extra_env: dict[str, str] | None = None, timeout_s: float = 60.0) -> Iterator[LiveApi]:
    """`uvicorn api.main:create_app --factory` with the environment pointing at the given services."""
    port = free_port()
    env = {**os.environ, "FERBENCH_HOME": str(home), "FERBENCH_DATA_DIR": str(home / "data"),
           "FERBENCH_DATABASE_URL": database_url, "FERBENCH_BROKER_URL": broker_url,
           "MLFLOW_TRACKING_URI": str(home / "mlruns"), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log_path = home / f"uvicorn-{port}.log"
    command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", log_level, "--no-server-header"]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    api = LiveApi(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, f"uvicorn exited with {process.returncode}:\n{api.log()[-3000:]}"
            try:
                if httpx.get(f"{api.url}/models", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"uvicorn did not answer within {timeout_s} s:\n{api.log()[-3000:]}"
            time.sleep(0.1)
        yield api
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
