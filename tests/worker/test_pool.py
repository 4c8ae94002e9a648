"""The worker's pool on a real worker (the documented command line, private Redis, SQLite, tracking server): it keeps
one idle process beyond `-c 1`, runs one task at a time all the same, and every task in a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_a_spare_process_waits_but_tasks_still_run_one_at_a_time_each_in_a_fresh_process(tmp_path: Path) -> None:
    with cluster(tmp_path, n_faces=140) as built:
        built.start_worker("worker")
        stats = built.celery.control.inspect(timeout=5).stats() or {}
        ((_, worker),) = stats.items()
        assert worker["pool"]["max-concurrency"] == 1 and len(worker["pool"]["processes"]) == 2
        ids = [built.submit(epochs=1, seed=k) for k in range(4)]
        rows = [built.wait_finished(i) for i in ids]
    assert {r.status for r in rows} == {"succeeded"}, [r.error for r in rows]
    spans = sorted((r.started_at, r.finished_at) for r in rows)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans  # never two at once
    assert len({r.worker for r in rows}) == 4  # each in its own process (--max-tasks-per-child=1)
