"""Real processes for the fault tests: a private Redis, a tracking server, a database, Celery workers.

Each fault test injects its fault into these processes (SIGKILL, SIGTERM, SIGSTOP, a Redis restart,
a cut network path to PostgreSQL) and checks the rows, the results table and the MLflow store.
With FERBENCH_RELIABILITY_REPORT set, each test appends what it injected, what happened, and the
counts before and after to that JSON-lines file (bench/reliability.py renders docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ferbench.db import experiments
from ferbench.db.models import Experiment, Result
from ferbench.db.session import make_session_factory
from ferbench.queue import enqueue_experiment, make_celery
from ferbench.services.mlflow_server import MlflowServer
from ferbench.services.redis_server import RedisServer
from ferbench.settings import Settings
from ferbench.testing.worker import WorkerProcess, start_worker

DATASET = "faces"
TINY = {"model": "cnn-small", "dataset": DATASET, "batch_size": 16, "seed": 0}
TERMINAL = ("succeeded", "failed", "cancelled")
REPORT_ENV = "FERBENCH_RELIABILITY_REPORT"


@dataclass
class Cluster:
    home: Path
    database_url: str  # the test's own path to the database (never cut)
    redis: RedisServer
    mlflow: MlflowServer
    env: dict[str, str]  # the workers' environment
    workers: list[WorkerProcess] = field(default_factory=list)
    _sessions: Callable[[], Session] | None = None
    _celery: Celery | None = None

    # -- processes ---------------------------------------------------------------------------------

    def start_worker(self, name: str) -> WorkerProcess:
        worker = start_worker(self.env, self.home / f"{name}.log", broker_url=self.redis.url)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self._celery is not None:
            self._celery.close()

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            self._celery = make_celery(Settings(), broker_url=self.redis.url)
        return self._celery

    # -- rows --------------------------------------------------------------------------------------

    def session(self) -> Session:
        if self._sessions is None:
            self._sessions = make_session_factory(self.database_url)
        return self._sessions()

    def create(self, **spec: Any) -> str:
        """Insert an experiment row (pending); `enqueue` sends it."""
        with self.session() as session:
            outcome = experiments.create_experiments(session, [{**TINY, **spec}], enqueue=lambda _id: None)
            return outcome.experiments[0].id

    def enqueue(self, experiment_id: str) -> None:
        enqueue_experiment(self.celery, experiment_id)

    def submit(self, **spec: Any) -> str:
        with self.session() as session:
            outcome = experiments.create_experiments(session, [{**TINY, **spec}], enqueue=self.enqueue)
            return outcome.experiments[0].id

    def row(self, experiment_id: str) -> Experiment:
        with self.session() as session:
            row = session.get(Experiment, experiment_id)
            assert row is not None, experiment_id
            session.expunge(row)
            return row

    def results_for(self, experiment_id: str) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(Result)
                                      .where(Result.experiment_id == experiment_id)) or 0)

    def wait(self, experiment_id: str, done: Callable[[Experiment], bool], *, timeout_s: float = 180.0,
             poll_s: float = 0.05, what: str = "the expected state") -> Experiment:
        deadline = time.monotonic() + timeout_s
        while True:
            row = self.row(experiment_id)
            if done(row):
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"{experiment_id} never reached {what} in {timeout_s} s (status {row.status}, "
                                     f"attempts {row.attempts}, error {row.error});\n{self.logs()}")
            time.sleep(poll_s)

    def wait_finished(self, experiment_id: str, timeout_s: float = 240.0) -> Experiment:
        return self.wait(experiment_id, lambda r: r.status in TERMINAL, timeout_s=timeout_s, what="a final status")

    def holder_pid(self, experiment_id: str) -> int:
        worker = self.row(experiment_id).worker or ""
        return int(worker.rpartition(":")[2])

    def checkpoint_epochs(self, experiment_id: str) -> int:
        path = self.home / "runs" / experiment_id / "checkpoint.json"
        try:
            return int(json.loads(path.read_text())["epochs_completed"])
        except (OSError, ValueError, KeyError):
            return 0

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log()[-2500:]}" for w in self.workers)

    # -- MLflow store (read from its database file: works while the server is down) --------------

    def mlflow_query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        path = self.mlflow.backend_uri.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            return list(conn.execute(sql, args))

    def mlflow_runs_of(self, experiment_id: str) -> list[tuple[str, str]]:
        """(run_uuid, status) of every MLflow run tagged with this experiment id."""
        return [(r[0], r[1]) for r in self.mlflow_query(
            "SELECT runs.run_uuid, runs.status FROM runs JOIN tags ON tags.run_uuid = runs.run_uuid "
            "WHERE tags.key = 'experiment_id' AND tags.value = ?", experiment_id)]

    def metric_steps(self, run_id: str, key: str) -> list[int]:
        """Every logged step of one metric, duplicates included."""
        return sorted(r[0] for r in self.mlflow_query("SELECT step FROM metrics WHERE run_uuid = ? AND key = ?",
                                                      run_id, key))

    def one_run_logged_once(self, experiment_id: str, epochs: int, keys: tuple[str, ...] = ("loss",)) -> tuple[str, str]:
        """The experiment's only MLflow run (id, status), asserting every epoch 1..`epochs` of `keys` logged once:
        a resumed job that restarted from scratch, or a duplicate delivery, would log some twice."""
        (run,) = self.mlflow_runs_of(experiment_id)
        for key in keys:
            assert self.metric_steps(run[0], key) == list(range(1, epochs + 1)), key
        return run

    # -- the report ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.session() as session:
            experiments = int(session.scalar(select(func.count()).select_from(Experiment)) or 0)
            results = int(session.scalar(select(func.count()).select_from(Result)) or 0)
            by_status = dict(session.execute(select(Experiment.status, func.count()).group_by(Experiment.status)).all())
        runs = int(self.mlflow_query("SELECT count(*) FROM runs")[0][0])
        return {"experiments": experiments, "results": results, "mlflow_runs": runs,
                **{f"status_{k}": int(v) for k, v in sorted(by_status.items())}}

    def counts_grew_by(self, before: dict[str, int], **growth: int) -> dict[str, int]:
        """The counts now, asserting that each one named grew by exactly its number since `before`."""
        after = self.counts()
        assert {k: after[k] - before[k] for k in growth} == growth, (before, after)
        return after


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)


def record_fault(fault: str, injected: str, observed: str, before: dict[str, int], after: dict[str, int]) -> None:
    """Append one row of docs/reliability.md (only when bench/reliability.py asked for a report)."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a") as handle:
        handle.write(json.dumps({"fault": fault, "injected": injected, "observed": observed,
                                 "before": before, "after": after,
                                 "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]}) + "\n")


def local_counts(session: Session, mlflow: MlflowServer) -> dict[str, int]:
    """The same counts for tests that run the task body in-process."""
    experiments = int(session.scalar(select(func.count()).select_from(Experiment)) or 0)
    results = int(session.scalar(select(func.count()).select_from(Result)) or 0)
    with sqlite3.connect(mlflow.backend_uri.removeprefix("sqlite:///")) as conn:
        runs = int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    return {"experiments": experiments, "results": results, "mlflow_runs": runs}
