"""The experiment lifecycle in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ferbench.db import experiments, hashing, lifecycle, outbox
from ferbench.db.models import Result


def spec(**overrides) -> dict:  # type: ignore[no-untyped-def]
    return {"model": "cnn-small", "dataset": "synthetic", "epochs": 2, "batch_size": 8, "seed": 0, **overrides}


class Outbox:
    """The enqueue function the SQL layer is given; records what it sent, or fails like a dead broker."""

    def __init__(self, broken: bool = False) -> None:
        self.sent: list[str] = []
        self.broken = broken

    def __call__(self, experiment_id: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.sent.append(experiment_id)


def submit(session: Session, *specs: dict, **kwargs) -> list:  # type: ignore[no-untyped-def]
    return experiments.create_experiments(session, list(specs) or [spec()], enqueue=kwargs.pop("enqueue", Outbox()),
                                          **kwargs).experiments


def finished_result(accuracy: float = 0.5, split: str = "split-a") -> lifecycle.ResultRecord:
    return lifecycle.ResultRecord(
        metrics={"accuracy": accuracy, "f1_macro": accuracy / 2, "params": 1000.0, "flops_per_image": 3.0},
        per_class={"angry": {"f1": 0.1}}, split_fingerprint=split, mlflow_run_id="run-1")


def test_created_rows_are_queued_only_after_the_send(session: Session) -> None:
    broker = Outbox()
    rows = submit(session, spec(seed=1), spec(seed=2), enqueue=broker, families={"cnn-small": "cnn"})
    assert broker.sent == [r.id for r in rows]
    assert [r.status for r in rows] == ["queued", "queued"]
    assert rows[0].group_id and rows[0].group_id == rows[1].group_id
    # Seeds of one spec share a spec key; another spec gets another.
    assert rows[0].spec_key == rows[1].spec_key != hashing.spec_key(spec(epochs=3))
    assert rows[0].family == "cnn" and rows[0].attempts == 0


def test_a_broker_failure_leaves_pending_rows_that_the_outbox_drain_sends(session: Session) -> None:
    with pytest.raises(outbox.BrokerUnavailable) as failure:
        submit(session, spec(), spec(seed=1), enqueue=Outbox(broken=True))
    ids = failure.value.experiment_ids
    assert [experiments.get_experiment(session, i).status for i in ids] == ["pending", "pending"]
    # Rows younger than the grace period may still be being sent by the request that made them.
    assert outbox.drain_outbox(session, Outbox(broken=True)) == 0
    with pytest.raises(outbox.BrokerUnavailable):
        outbox.drain_outbox(session, Outbox(broken=True), older_than_s=0)
    broker = Outbox()
    assert outbox.drain_outbox(session, broker, older_than_s=0) == 2
    assert sorted(broker.sent) == sorted(ids)
    assert {experiments.get_experiment(session, i).status for i in ids} == {"queued"}
    assert outbox.drain_outbox(session, Outbox(), older_than_s=0) == 0


def test_idempotency_key_replays_the_same_rows_and_refuses_another_body(session: Session) -> None:
    first = submit(session, spec(), idempotency_key="k1", request_hash="h1")
    again = experiments.create_experiments(session, [spec()], enqueue=Outbox(), idempotency_key="k1", request_hash="h1")
    assert not again.created and [r.id for r in again.experiments] == [r.id for r in first]
    with pytest.raises(experiments.IdempotencyConflict):
        experiments.create_experiments(session, [spec(seed=9)], enqueue=Outbox(), idempotency_key="k1", request_hash="h2")


def test_exactly_one_of_two_concurrent_claims_wins(session: Session, session_factory: Callable[[], Session]) -> None:
    ids = [r.id for r in submit(session, *[spec(seed=s) for s in range(8)])]
    for experiment_id in ids:
        barrier = threading.Barrier(2)
        winners: list[str] = []

        def claim(worker: str) -> None:
            s = session_factory()
            try:
                barrier.wait()
                if lifecycle.claim_experiment(s, experiment_id, worker=worker) is not None:
                    winners.append(worker)
            finally:
                s.close()

        threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1
        row = experiments.get_experiment(session, experiment_id)
        session.refresh(row)
        assert row.status == "running" and row.attempts == 1 and row.worker == winners[0] and row.started_at


def test_progress_finish_once_and_duplicate_finish_does_nothing(session: Session) -> None:
    (row,) = submit(session)
    assert lifecycle.update_progress(session, row.id, {"epoch": 1}) is False  # not running yet
    lifecycle.claim_experiment(session, row.id)
    progress = {"epoch": 1, "epochs": 2, "batch": 3, "batches": 10, "metrics": {"loss": float("nan")}, "eta_seconds": 4.0}
    assert lifecycle.update_progress(session, row.id, progress)
    lifecycle.set_mlflow_run_id(session, row.id, "run-1")
    fresh = experiments.get_experiment(session, row.id)
    session.refresh(fresh)
    assert fresh.progress["batch"] == 3 and fresh.progress["metrics"]["loss"] is None and fresh.heartbeat_at
    assert lifecycle.finish_experiment(session, row.id, finished_result(0.7))
    assert lifecycle.finish_experiment(session, row.id, finished_result(0.9)) is False
    assert lifecycle.fail_experiment(session, row.id, "late failure") is False
    session.expire_all()
    done = experiments.get_experiment(session, row.id)
    assert done.status == "succeeded" and done.finished_at and done.mlflow_run_id == "run-1"
    assert session.scalar(select(func.count()).select_from(Result)) == 1
    result = experiments.get_result(session, row.id)
    assert result.accuracy == pytest.approx(0.7) and result.params == 1000.0 and result.per_class == {"angry": {"f1": 0.1}}


def test_cancel_queued_at_once_running_by_flag_finished_is_a_conflict(session: Session) -> None:
    queued, running, done = submit(session, spec(seed=1), spec(seed=2), spec(seed=3))
    assert experiments.request_cancel(session, queued.id).status == "cancelled"
    assert lifecycle.claim_experiment(session, queued.id) is None  # a cancelled job never starts

    lifecycle.claim_experiment(session, running.id)
    flagged = experiments.request_cancel(session, running.id)
    assert flagged.status == "running" and flagged.cancel_requested and lifecycle.is_cancel_requested(session, running.id)
    assert lifecycle.mark_cancelled(session, running.id)

    lifecycle.claim_experiment(session, done.id)
    lifecycle.fail_experiment(session, done.id, "boom")
    for finished in (queued.id, running.id, done.id):
        with pytest.raises(experiments.ExperimentConflict):
            experiments.request_cancel(session, finished)
    with pytest.raises(experiments.ExperimentNotFound):
        experiments.request_cancel(session, "no-such-id")


def test_list_filters_and_pages(session: Session) -> None:
    submit(session, spec(seed=1), spec(seed=2), spec(dataset="fer2013"))
    rows, total = experiments.list_experiments(session, dataset="synthetic", limit=1)
    assert total == 2 and len(rows) == 1
    second, _ = experiments.list_experiments(session, dataset="synthetic", limit=1, offset=1)
    assert second[0].id != rows[0].id
    assert experiments.list_experiments(session, status="running")[1] == 0
    assert experiments.list_experiments(session, model="cnn-small")[1] == 3


def test_lost_deliveries_fail_naming_the_signal_that_killed_them(session: Session) -> None:
    (row,) = submit(session)
    dead = lambda worker: False  # noqa: E731 - every holder's process is gone
    assert lifecycle.claim_experiment(session, row.id, worker="host:1") is not None
    assert lifecycle.record_lost_cause(session, row.id, "SIGSEGV")
    assert lifecycle.reclaim_lost(session, row.id, stale_after_s=60, max_attempts=2, holder_alive=dead) is not None
    assert lifecycle.record_lost_cause(session, row.id, "SIGSEGV")
    assert lifecycle.reclaim_lost(session, row.id, stale_after_s=60, max_attempts=2, holder_alive=dead) is None
    failed = experiments.get_experiment(session, row.id)
    session.refresh(failed)
    assert failed.status == "failed" and failed.lost_causes == ["SIGSEGV", "SIGSEGV"]
    assert failed.error.startswith("the training process was killed by SIGSEGV, 2 times")
    assert lifecycle.is_lost_failure(failed)
    assert not lifecycle.record_lost_cause(session, row.id, "SIGKILL")  # a finished row keeps its history


def test_a_row_claimed_during_its_send_still_has_its_enqueue_time(session: Session,
                                                                  session_factory: Callable[[], Session]) -> None:
    # A worker can take the message before the API's mark_queued runs: the row was enqueued all the same.
    worker_session = session_factory()

    def send_and_be_claimed(experiment_id: str) -> None:
        assert lifecycle.claim_experiment(worker_session, experiment_id, worker="host:1") is not None

    try:
        (row,) = submit(session, enqueue=send_and_be_claimed)
    finally:
        worker_session.close()
    session.refresh(row)
    assert row.status == "running" and row.enqueued_at is not None and row.enqueued_at <= row.started_at
