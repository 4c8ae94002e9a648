"""The serving process (`ferbench serve`) as a real child process on a free port, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ferbench.services.ports import free_port
from ferbench.services.process_group import stop_group
from ferbench.services.readiness import exited, wait_until
from ferbench.stack import serve_command
from ferbench.testing.live_api import ROOT, LiveApi

LiveServe = LiveApi  # the same handle: a URL, the child process, its log


@contextmanager
def live_serve(*, home: Path, tracking_uri: str, extra_env: dict[str, str] | None = None,
               timeout_s: float = 60.0) -> Iterator[LiveServe]:
    """`ferbench serve` against `tracking_uri`; its output goes to `home/serve-<port>.log`."""
    port = free_port()
    env = {**os.environ, "FERBENCH_HOME": str(home), "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1",
           **(extra_env or {})}
    log_path = home / f"serve-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(serve_command("127.0.0.1", port), cwd=ROOT, env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    serve = LiveServe(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until(lambda: httpx.get(f"{serve.url}/health", timeout=1).status_code == 200, timeout_s=timeout_s,
                   what=f"ferbench serve at {serve.url}", died=exited(process, "ferbench serve", log_path, lines=40),
                   error=AssertionError, retry_on=(httpx.TransportError,), interval_s=0.1)
        yield serve
    finally:
        stop_group(process, 10)
