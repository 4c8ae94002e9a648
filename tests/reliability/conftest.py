"""Builders for the fault tests' private clusters (see cluster.py); each test module starts its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from ferbench.db.migrate import upgrade
from ferbench.services.mlflow_server import MlflowServer, start_mlflow_server
from ferbench.services.redis_server import start_redis
from ferbench.testing.face_folders import write_face_folders
from ferbench.testing.worker import service_env
from tests.reliability.cluster import DATASET, Cluster
from tests.reliability.tcp_proxy import TcpProxy


@contextmanager
def cluster(home: Path, *, database_url: str | None = None, worker_database_url: str | None = None,
            mlflow: MlflowServer | None = None, n_faces: int = 280, **settings: object) -> Iterator[Cluster]:
    """Own Redis (append-only persistence), own or given tracking server, a database, no worker yet.

    `settings` become FERBENCH_<NAME> variables of the workers (e.g. max_attempts=2).
    """
    database_url = database_url or f"sqlite:///{home / 'ferbench.db'}"
    with ExitStack() as stack:
        write_face_folders(home / "data", DATASET, n=n_faces)
        upgrade(database_url)
        redis = stack.enter_context(start_redis(home / "redis", persistent=True))
        if mlflow is None:
            mlflow = start_mlflow_server(home / "mlflow")
            stack.callback(mlflow.stop, 5.0)
        env = service_env(home=home, database_url=worker_database_url or database_url, broker_url=redis.url,
                          tracking_uri=mlflow.url)
        env.update({f"FERBENCH_{k.upper()}": str(v) for k, v in settings.items()})
        # MLflow's own HTTP retries would hide ours (and take minutes): fer_models.tracking.retry is the one layer.
        env.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="3",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
        env.pop("FERBENCH_RELIABILITY_REPORT", None)
        built = Cluster(home=home, database_url=database_url, redis=redis, mlflow=mlflow, env=env)
        stack.callback(built.stop)
        yield built


@pytest.fixture(scope="module")
def proxy() -> Iterator[TcpProxy]:
    """A cuttable TCP path to the machine's PostgreSQL, one per test module."""
    db_proxy = TcpProxy(target=("127.0.0.1", 5432)).start()
    yield db_proxy
    db_proxy.close()
