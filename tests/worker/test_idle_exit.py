"""FERBENCH_WORKER_IDLE_EXIT_S: a worker with nothing to do exits (status 0, ending a ScaledJob's pod), never while busy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ferbench.services.redis_server import start_redis
from ferbench.stack import migrate
from ferbench.testing.worker import service_env, start_worker
from worker.idle_exit import watch_idle


def test_exits_after_the_idle_time_and_never_while_busy() -> None:
    busy, exited = threading.Event(), threading.Event()
    busy.set()
    stop = threading.Event()
    watch_idle(0.3, stop, busy=busy.is_set, exit_now=exited.set)
    assert not exited.wait(1.5)  # a long task: no exit however long it runs
    busy.clear()
    started = time.monotonic()
    assert exited.wait(5)
    assert time.monotonic() - started >= 0.3
    stop.set()


@pytest.mark.services
def test_a_real_idle_worker_shuts_down_warmly_with_status_0(tmp_path: Path, mlflow_server) -> None:  # type: ignore[no-untyped-def]
    database_url = f"sqlite:///{tmp_path / 'ferbench.db'}"
    migrate(database_url, tmp_path / "logs")
    with start_redis(tmp_path / "redis", persistent=False) as redis:
        env = service_env(home=tmp_path, database_url=database_url, broker_url=redis.url,
                          tracking_uri=mlflow_server.url) | {"FERBENCH_WORKER_IDLE_EXIT_S": "5"}
        worker = start_worker(env, tmp_path / "worker.log", broker_url=redis.url)
        try:
            assert worker.process.wait(timeout=90) == 0, worker.log()[-3000:]
        finally:
            worker.stop()
    assert "no task for 5 s" in worker.log()
