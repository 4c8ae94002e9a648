"""Faults of the worker's own process and of the services it writes to, on real processes.

One private cluster for the module (its own Redis, tracking server, PostgreSQL database reached
through a cuttable TCP proxy, and one Celery worker), shared by the tests in file order:
SIGKILL mid-epoch, a job that kills its worker every time, a Redis restart, a database outage,
and a slow then dead tracking server (last: it leaves the tracking server dead).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from ferbench.db.lifecycle import worker_lost_message
from ferbench.testing.databases import postgres_database
from tests.reliability.cluster import Cluster, kill, record_fault
from tests.reliability.conftest import cluster
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.services, pytest.mark.slow]

MAX_ATTEMPTS = 2


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory, proxy: TcpProxy) -> Iterator[Cluster]:
    with postgres_database("faults") as database_url:
        through_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        assert through_proxy != database_url
        with cluster(tmp_path_factory.mktemp("worker-faults"), database_url=database_url,
                     worker_database_url=through_proxy, n_faces=420, max_attempts=MAX_ATTEMPTS,
                     heartbeat_interval_s=1, heartbeat_stale_s=60, db_write_attempts=8) as built:
            built.start_worker("worker")
            yield built


def test_sigkill_mid_epoch_3_resumes_from_the_epoch_2_checkpoint_in_the_same_run(faults: Cluster) -> None:
    before = faults.counts()
    experiment_id = faults.submit(epochs=5)
    # Epoch 2 is checkpointed and logged (progress is written after both), so training is in epoch 3.
    faults.wait(experiment_id, lambda r: (r.progress or {}).get("epoch") == 2
                and (r.progress or {}).get("batch") == (r.progress or {}).get("batches"), what="epoch 2 done")
    time.sleep(0.1)
    first_holder = faults.holder_pid(experiment_id)
    kill(first_holder)
    assert faults.checkpoint_epochs(experiment_id) == 2, "the kill landed after epoch 3 ended; slow the epochs down"

    final = faults.wait_finished(experiment_id)
    assert final.status == "succeeded", final.error
    assert final.attempts == 2 and faults.holder_pid(experiment_id) != first_holder
    assert faults.results_for(experiment_id) == 1
    # One MLflow run, reopened by the redelivery.
    run = faults.one_run_logged_once(experiment_id, epochs=5, keys=("loss", "val_accuracy"))
    assert run == (final.mlflow_run_id, "FINISHED")
    after = faults.counts_grew_by(before, experiments=1, results=1, mlflow_runs=1)
    record_fault("worker SIGKILL mid-epoch", "SIGKILL to the pool process in epoch 3 of 5",
                 "redelivered (acks_late + reject_on_worker_lost), reclaimed (holder pid gone), resumed from the "
                 "epoch-2 checkpoint in the same MLflow run; succeeded, attempts 2, steps 1-5 logged once each",
                 before, after)


def test_a_job_that_kills_its_worker_every_time_fails_after_max_attempts(faults: Cluster) -> None:
    # SIGSEGV, as a crash in TensorFlow's native code delivers it (issue 17): the failure names it.
    before = faults.counts()
    experiment_id = faults.submit(epochs=50)
    killed: set[int] = set()
    deadline = time.monotonic() + 240
    while (row := faults.row(experiment_id)).status not in ("failed", "succeeded", "cancelled"):
        assert time.monotonic() < deadline, faults.logs()
        if row.status == "running" and row.worker and row.mlflow_run_id:  # its MLflow run is open
            pid = faults.holder_pid(experiment_id)
            if pid not in killed:
                kill(pid, signal.SIGSEGV)
                killed.add(pid)
        time.sleep(0.05)
    assert row.status == "failed"
    assert row.error == worker_lost_message(MAX_ATTEMPTS, ["SIGSEGV"] * MAX_ATTEMPTS)
    assert row.error.startswith(f"the training process was killed by SIGSEGV, {MAX_ATTEMPTS} times"), row.error
    assert len(killed) == MAX_ATTEMPTS and row.attempts == MAX_ATTEMPTS
    assert faults.results_for(experiment_id) == 0
    assert faults.workers[0].process.poll() is None  # the worker itself carries on
    deadline = time.monotonic() + 30
    while (runs := faults.mlflow_runs_of(experiment_id)) and runs[0][1] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [status for _, status in runs] == ["FAILED"], runs
    after = faults.counts()
    record_fault("job kills its worker every time", f"SIGSEGV to every pool process that claims it (max_attempts={MAX_ATTEMPTS})",
                 f"failed with \"{row.error.split(' (')[0]}\" after {MAX_ATTEMPTS} attempts, its MLflow run FAILED; "
                 "no loop, no result row", before, after)


def test_redis_restart_with_jobs_running_and_queued(faults: Cluster) -> None:
    before = faults.counts()
    running = faults.submit(epochs=2, seed=1)
    queued = faults.submit(epochs=1, seed=2)
    faults.wait(running, lambda r: (r.progress or {}).get("epoch", 0) >= 1, what="epoch 1")
    assert faults.row(queued).status == "queued"
    faults.redis.stop()  # SIGTERM: Redis writes its append-only file and exits
    time.sleep(1.0)
    from ferbench.services.redis_server import start_redis

    restarted = start_redis(faults.redis.data_dir, port=faults.redis.port, persistent=True)
    faults.redis.process = restarted.process
    for experiment_id in (running, queued):
        final = faults.wait_finished(experiment_id)
        assert final.status == "succeeded", final.error
        assert faults.results_for(experiment_id) == 1
        assert len(faults.mlflow_runs_of(experiment_id)) == 1
    time.sleep(2.0)  # any late duplicate delivery would land now
    after = faults.counts_grew_by(before, results=2, mlflow_runs=2)
    record_fault("Redis restart", "redis-server stopped (SIGTERM) and started again on the same port and "
                 "append-only file, one job running and one queued",
                 "the worker reconnected; the running job finished, the queued one ran; one result row and one "
                 "MLflow run each", before, after)


def test_database_outage_at_the_result_write_is_retried_and_never_half_visible(faults: Cluster, proxy: TcpProxy) -> None:
    before = faults.counts()
    experiment_id = faults.submit(epochs=2, seed=3)
    faults.wait(experiment_id, lambda r: (r.progress or {}).get("epoch") == 2, what="the last epoch")
    proxy.cut()  # evaluation and the final MLflow logging take seconds: the result write lands in the outage
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            # The test's own connection is not cut: status and results row must always agree.
            row = faults.row(experiment_id)
            assert (row.status == "succeeded") == (faults.results_for(experiment_id) == 1), row.status
            time.sleep(0.1)
        assert faults.row(experiment_id).status == "running"
    finally:
        proxy.restore()
    final = faults.wait_finished(experiment_id, timeout_s=120)
    assert final.status == "succeeded", final.error
    assert faults.results_for(experiment_id) == 1
    log = faults.workers[0].log()
    assert "database result write failed" in log, faults.logs()
    after = faults.counts()
    record_fault("database unreachable", "TCP path worker->PostgreSQL cut for 8 s at the end of training "
                 "(connections reset, new ones refused)",
                 "the result write was retried with backoff and landed once the path was back; status and "
                 "results row were never seen disagreeing", before, after)


def test_tracking_server_slow_then_gone(faults: Cluster) -> None:
    import os

    before = faults.counts()
    group = os.getpgid(faults.mlflow.process.pid)  # type: ignore[union-attr]
    experiment_id = faults.submit(epochs=30, seed=4)
    faults.wait(experiment_id, lambda r: (r.progress or {}).get("epoch", 0) >= 1, what="epoch 1")
    os.killpg(group, signal.SIGSTOP)  # the server hangs: requests time out (3 s) and are retried with backoff
    time.sleep(4)
    os.killpg(group, signal.SIGCONT)
    stalled_at = (faults.row(experiment_id).progress or {}).get("epoch", 0)
    faults.wait(experiment_id, lambda r: (r.progress or {}).get("epoch", 0) >= stalled_at + 2, what="two more epochs")
    assert faults.row(experiment_id).status == "running"  # the slow spell cost time, not the run
    assert "MLflow metrics failed" in faults.workers[0].log()  # a retried call, logged

    faults.mlflow.stop(timeout=2)  # now for good
    final = faults.wait_finished(experiment_id, timeout_s=120)
    assert final.status == "failed"
    assert "MLflow tracking server did not answer" in (final.error or ""), final.error
    kept = final.progress or {}
    assert len(kept.get("history", {}).get("loss", [])) >= stalled_at + 2, kept  # computed epochs stay in SQL
    assert faults.results_for(experiment_id) == 0
    after = faults.counts()
    record_fault("tracking server slow, then down", "mlflow server SIGSTOPped for 4 s mid-run, resumed, then "
                 "killed for good",
                 "slow: calls timed out (3 s) and were retried with backoff, training went on; down: after 4 tries "
                 "the experiment failed with \"the MLflow tracking server did not answer ...\", per-epoch history "
                 "kept in the row", before, after)
