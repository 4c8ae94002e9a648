"""Faults of the queue itself, on real processes: two workers racing for one task, a visibility
timeout shorter than a job, and a graceful shutdown (SIGTERM) of the worker running a job.

One private cluster for the module (own Redis, SQLite, the session's tracking server) with two
workers whose broker visibility timeout is set to a few seconds.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from ferbench.db import lifecycle
from ferbench.db.models import Experiment, utcnow
from ferbench.services.mlflow_server import MlflowServer
from tests.reliability.cluster import Cluster, record_fault
from tests.reliability.conftest import cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]

VISIBILITY_S = 3


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("queue-faults"), mlflow=mlflow_server, n_faces=210,
                 broker_visibility_timeout_s=VISIBILITY_S, heartbeat_interval_s=1, heartbeat_stale_s=60,
                 reaper_interval_s=2) as built:
        built.start_worker("worker-a")
        built.start_worker("worker-b")
        yield built


def claims(cluster_: Cluster, experiment_id: str) -> int:
    return sum(w.log().count(f"claimed experiment {experiment_id}") for w in cluster_.workers)


def skips(cluster_: Cluster, experiment_id: str) -> int:
    return sum(w.log().count(f"experiment {experiment_id} not claimable") for w in cluster_.workers)


def test_two_workers_racing_for_one_task_exactly_one_claims(queue: Cluster) -> None:
    before = queue.counts()
    experiment_id = queue.create(epochs=1, seed=11)
    queue.enqueue(experiment_id)
    queue.enqueue(experiment_id)  # a duplicate delivery: both idle workers get a copy
    final = queue.wait_finished(experiment_id)
    assert final.status == "succeeded", final.error
    deadline = time.monotonic() + 30
    while skips(queue, experiment_id) < 1:
        assert time.monotonic() < deadline, queue.logs()
        time.sleep(0.1)
    assert claims(queue, experiment_id) == 1 and final.attempts == 1
    assert queue.results_for(experiment_id) == 1 and len(queue.mlflow_runs_of(experiment_id)) == 1
    after = queue.counts()
    record_fault("duplicate delivery / two workers racing", "the same task sent twice to two idle workers",
                 "exactly one claimed it (conditional UPDATE), the other logged it not claimable; one result row",
                 before, after)


def test_visibility_timeout_took_effect_and_a_running_job_is_not_started_twice(queue: Cluster) -> None:
    from celery import Celery

    probe = Celery(broker=queue.redis.url)
    try:
        confs = probe.control.inspect(timeout=2).conf() or {}
    finally:
        probe.close()
    assert len(confs) == 2, confs
    for conf in confs.values():  # what the running workers use, not what the code would build
        assert conf["broker_transport_options"]["visibility_timeout"] == VISIBILITY_S
        assert conf["result_backend_transport_options"]["visibility_timeout"] == VISIBILITY_S

    before = queue.counts()
    experiment_id = queue.submit(epochs=6, seed=12)
    queue.wait(experiment_id, lambda r: r.status == "running", what="running")
    # Redis hands the unacknowledged task to the idle worker once the timeout passes: proof that it
    # took effect. The holder is alive and beating, so that delivery must not start it again.
    deadline = time.monotonic() + 90
    while skips(queue, experiment_id) < 1:
        assert time.monotonic() < deadline, f"no redelivery after the {VISIBILITY_S} s visibility timeout\n{queue.logs()}"
        assert queue.row(experiment_id).status == "running", queue.logs()
        time.sleep(0.2)
    final = queue.wait_finished(experiment_id)
    assert final.status == "succeeded", final.error
    assert claims(queue, experiment_id) == 1 and final.attempts == 1
    assert queue.results_for(experiment_id) == 1
    queue.one_run_logged_once(experiment_id, epochs=6)
    after = queue.counts()
    record_fault("job outlives the visibility timeout", f"broker visibility_timeout set to {VISIBILITY_S} s "
                 "(FERBENCH_BROKER_VISIBILITY_TIMEOUT_S) under a 6-epoch job; both workers' live config checked",
                 f"Redis redelivered the task {skips(queue, experiment_id)} time(s); each copy found the holder alive "
                 "and skipped; one claim, one run, one result row", before, after)


def test_sigterm_requeues_the_running_job_at_once_and_it_resumes_on_the_other_worker(queue: Cluster) -> None:
    before = queue.counts()
    experiment_id = queue.submit(epochs=4, seed=13)
    queue.wait(experiment_id, lambda r: (r.progress or {}).get("epoch", 0) >= 2
               and (r.progress or {}).get("batch") == (r.progress or {}).get("batches"), what="epoch 2 done")
    holder_pid = queue.holder_pid(experiment_id)
    holder = next(w for w in queue.workers if holder_pid in _children(w.process.pid))
    other = next(w for w in queue.workers if w is not holder)
    holder.process.send_signal(signal.SIGTERM)  # a warm shutdown, as `docker stop` or systemd would
    stopped_at = time.monotonic()
    holder.process.wait(60)
    assert time.monotonic() - stopped_at < 30  # it did not wait for the remaining epochs
    resumed = queue.wait(experiment_id, lambda r: r.status in ("running", "succeeded") and r.worker is not None
                         and queue.holder_pid(experiment_id) != holder_pid, what="claimed by the other worker")
    assert f"claimed experiment {experiment_id}" in other.log()
    final = queue.wait_finished(experiment_id)
    assert final.status == "succeeded", final.error
    assert resumed.attempts == final.attempts == 1  # a graceful requeue is not counted as a lost worker
    assert queue.results_for(experiment_id) == 1
    queue.one_run_logged_once(experiment_id, epochs=4)  # resumed from the checkpoint: 1-2 not repeated
    assert re.search(rf"experiment {experiment_id} requeued by the worker's shutdown", holder.log())
    record_fault("graceful shutdown (SIGTERM) mid-job", "SIGTERM to the worker's main process in epoch 3 of 4",
                 "the job stopped at the next batch, went back to the queue at once, the worker exited, the other "
                 "worker resumed from the epoch checkpoint in the same MLflow run; steps 1-4 once each",
                 before, queue.counts())


def test_the_reaper_in_a_worker_requeues_a_job_whose_host_disappeared(queue: Cluster) -> None:
    before = queue.counts()
    experiment_id = queue.create(epochs=1, seed=14)
    with queue.session() as session:
        # Claimed by a worker on a host that is gone: no process to check, only its heartbeat, an hour old.
        assert lifecycle.claim_experiment(session, experiment_id, worker="vanished-host:4242") is not None
        session.execute(update(Experiment).where(Experiment.id == experiment_id)
                        .values(heartbeat_at=utcnow() - timedelta(hours=1)))
        session.commit()
    final = queue.wait_finished(experiment_id, timeout_s=120)
    assert final.status == "succeeded", final.error
    assert final.attempts == 2 and final.worker != "vanished-host:4242"
    assert any("reaper: requeued" in w.log() and experiment_id in w.log() for w in queue.workers)
    assert queue.results_for(experiment_id) == 1
    after = queue.counts()
    record_fault("worker host disappears", "a running row held by `vanished-host:4242` with a heartbeat 1 h old "
                 "(heartbeat_stale_s=60)", "a worker's reaper thread (every 2 s) requeued it within the attempt "
                 "limit; it ran to success on attempt 2", before, after)


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return {int(p) for p in handle.read().split()}
    except OSError:
        return set()
