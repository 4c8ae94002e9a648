"""A heartbeat thread for the job a pool process runs: the row's heartbeat_at is refreshed every
settings.heartbeat_interval_s, whatever the training loop is doing (a long epoch, a slow evaluation,
a model download), so only a dead worker ever has a stale heartbeat."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def heartbeat_while_running(experiment_id: str, beat: Callable[[str], object], interval_s: float) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                beat(experiment_id)
            except Exception as exc:  # noqa: BLE001 - one missed beat is fine; the next one retries
                log.warning("heartbeat of %s failed: %s", experiment_id, str(exc).splitlines()[0][:200])

    thread = threading.Thread(target=loop, name=f"heartbeat-{experiment_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
