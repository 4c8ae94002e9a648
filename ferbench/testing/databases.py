"""Throwaway databases on both backends and a private Redis database, for tests and benchmarks; removed after.

PostgreSQL: a uniquely named database on the machine's server (never anyone else's data), created
through FERBENCH_TEST_POSTGRES_URL (default: the local server's `test` database).
Redis: the machine's server, on a database number nobody is using; only our keys are deleted after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from ferbench.db.migrate import upgrade
from ferbench.db.session import make_engine, normalise_url

PG_ADMIN_URL = os.environ.get("FERBENCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = "redis://127.0.0.1:6379"
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def postgres_database(purpose: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new, empty, uniquely named PostgreSQL database, dropped afterwards; yields its URL."""
    import psycopg

    name = f"ferbench_{purpose}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield normalise_url(f"{admin_url.rsplit('/', 1)[0]}/{name}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A fresh database migrated by `ferbench db upgrade`'s code path; yields its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / 'ferbench-test.db'}"
        upgrade(url)
        yield url
        return
    with postgres_database("apitest") as url:
        upgrade(url)
        yield url


def empty_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM uploaded_datasets"))
            conn.execute(text("DELETE FROM reports"))
            conn.execute(text("DELETE FROM sweep_trials"))
            conn.execute(text("DELETE FROM sweeps"))
            conn.execute(text("DELETE FROM result_groups"))
            conn.execute(text("DELETE FROM results"))
            conn.execute(text("DELETE FROM experiments"))
    finally:
        engine.dispose()


@contextmanager
def private_redis() -> Iterator[str]:
    """A broker URL on an unused Redis database number; our Celery keys are deleted afterwards."""
    import redis

    # A database holding nothing, or only Celery's binding markers (left by an earlier run of ours).
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        if client.dbsize() <= 5 and all(k.startswith(b"_kombu.binding") for k in client.keys("*")):
            break
        client.close()
    else:  # pragma: no cover - a machine with every database in use
        raise RuntimeError("no empty Redis database number for the tests")
    try:
        yield f"{REDIS}/{number}"
    finally:
        purge(client)
        client.close()


def purge(client) -> None:  # type: ignore[no-untyped-def]
    keys = [k for pattern in ("gpu", "_kombu.binding*", "unacked*", "celery*") for k in client.keys(pattern)]
    if keys:
        client.delete(*keys)
