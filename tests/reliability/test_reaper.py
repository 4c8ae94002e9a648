"""The claim and reaper rules on a real (SQLite) database: who may run a `running` job again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from ferbench.db import experiments
from ferbench.db.migrate import upgrade
from ferbench.db.models import Experiment, utcnow
from ferbench.settings import Settings, get_settings
from worker import records
from worker.liveness import holder_alive
from worker.reaper import reap_once


@pytest.fixture
def settings() -> Settings:
    current = get_settings()
    upgrade(current.resolved_database_url)
    return current


def running_row(holder: str, *, heartbeat_age_s: float, attempts: int = 1) -> str:
    with records.session_scope() as session:
        spec = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1, "seed": 0}
        experiment_id = experiments.create_experiments(session, [spec], enqueue=lambda _id: None).experiments[0].id
        session.execute(update(Experiment).where(Experiment.id == experiment_id).values(
            status="running", worker=holder, attempts=attempts,
            heartbeat_at=utcnow() - timedelta(seconds=heartbeat_age_s)))
    return experiment_id


def state(experiment_id: str) -> tuple[str, int, str | None]:
    with records.session_scope() as session:
        row = experiments.get_experiment(session, experiment_id)
        return row.status, row.attempts, row.error


def dead_local_holder() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}"


def test_a_redelivery_never_starts_a_job_whose_holder_is_alive(settings: Settings) -> None:
    alive_here = f"{socket.gethostname()}:{os.getppid()}"
    assert holder_alive(alive_here)
    for holder in (alive_here, "other-host:1"):
        experiment_id = running_row(holder, heartbeat_age_s=1)
        assert records.claim(experiment_id) is None
        assert state(experiment_id) == ("running", 1, None)


def test_a_redelivery_reclaims_a_job_whose_holder_is_gone_and_counts_the_attempt(settings: Settings) -> None:
    holder = dead_local_holder()
    assert not holder_alive(holder)
    fresh_but_dead = running_row(holder, heartbeat_age_s=1)
    claimed = records.claim(fresh_but_dead)
    assert claimed is not None and claimed.attempts == 2
    assert records.claim(fresh_but_dead) is None  # now held by this (live) process: not twice
    stale_elsewhere = running_row("other-host:1", heartbeat_age_s=settings.heartbeat_stale_s + 5)
    assert records.claim(stale_elsewhere) is not None and state(stale_elsewhere)[:2] == ("running", 2)


def test_past_max_attempts_a_lost_job_fails_with_worker_lost_n_times(settings: Settings) -> None:
    lost = running_row(dead_local_holder(), heartbeat_age_s=1, attempts=settings.max_attempts)
    assert records.claim(lost) is None
    status, attempts, error = state(lost)
    assert status == "failed" and f"worker lost {settings.max_attempts} times" in (error or "")

    stale = running_row("other-host:1", heartbeat_age_s=settings.heartbeat_stale_s + 5, attempts=settings.max_attempts)
    fresh = running_row("other-host:2", heartbeat_age_s=1)
    sent: list[str] = []
    report = reap_once(settings, sent.append)
    assert report.failed == [stale] and report.requeued == [] and sent == []
    assert state(stale)[0] == "failed" and state(fresh)[0] == "running"  # a live job is left alone
