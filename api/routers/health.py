"""GET /health: the database, the broker and the tracking server, each checked with a short timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.request
from collections.abc import Callable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import AppResources, resources
from api.schemas import DependencyHealth, HealthOut
from ferbench.urls import is_http_url

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)
TIMEOUT_S = 2.0


def _reason(what: str, exc: Exception) -> str:
    """A short cause for the client; the exception itself goes to the log only (no internals leak)."""
    log.warning("%s check failed: %r", what, exc)
    text = str(exc).lower()
    if isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        return f"{what} unreachable (timed out)"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return f"{what} unreachable (connection refused)"
    return f"{what} unreachable"


def _checked(what: str, check: Callable[[], bool | None]) -> DependencyHealth:
    """Run one dependency's check; any exception is "down", with a short reason and no trace."""
    try:
        answered = check()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; no trace in the answer
        return DependencyHealth(ok=False, detail=_reason(what, exc))
    if answered is False:
        return DependencyHealth(ok=False, detail=f"{what} unhealthy")
    return DependencyHealth(ok=True)


def _database(res: AppResources) -> DependencyHealth:
    def check() -> None:
        with contextlib.closing(res.session_factory()()) as session:
            session.execute(text("SELECT 1"))

    return _checked("database", check)


def _broker(res: AppResources) -> DependencyHealth:
    url = res.settings.broker_url
    if not url:
        return DependencyHealth(ok=False, detail="FERBENCH_BROKER_URL is not set")

    def check() -> None:
        import redis

        with contextlib.closing(redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S,
                                                     socket_timeout=TIMEOUT_S)) as client:
            client.ping()

    return _checked("broker", check)


def _tracking(res: AppResources) -> DependencyHealth:
    uri = res.settings.mlflow_tracking_uri
    if not uri:
        return DependencyHealth(ok=False, detail="MLFLOW_TRACKING_URI is not set")
    if not is_http_url(uri):
        return DependencyHealth(ok=True, detail="local store (no server to check)")

    def check() -> bool:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=TIMEOUT_S) as answer:  # noqa: S310 - configured URL
            return answer.status == 200

    return _checked("tracking server", check)


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(res: AppResources = Depends(resources)) -> JSONResponse:
    """200 when the database, the broker and the tracking server answer; 503 naming those that do not."""
    checks = await asyncio.gather(*(asyncio.to_thread(check, res) for check in (_database, _broker, _tracking)))
    deps = dict(zip(("database", "broker", "tracking_server"), checks, strict=True))
    ok = all(d.ok for d in deps.values())
    body = HealthOut(status="ok" if ok else "unavailable", dependencies=deps)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
