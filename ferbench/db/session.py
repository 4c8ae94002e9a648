"""Engines and session factories from a database URL (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the only PostgreSQL driver installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def json_loads(data: str | bytes) -> Any:
    """orjson for the JSON columns (GET /leaderboard decodes 40 per request); json for what orjson refuses
    (NaN or Infinity, which json.dumps writes), so no stored row becomes unreadable."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # Several processes (API, worker) share the file: wait for locks instead of failing at once.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, json_deserializer=json_loads)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30, json_deserializer=json_loads)


def make_session_factory(url_or_engine: str | Engine) -> Callable[[], Session]:
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    return sessionmaker(bind=engine, expire_on_commit=False)
