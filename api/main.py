"""`create_app(settings)`: the FER Bench API. Run with `uvicorn api.main:create_app --factory`.

Creating the app opens no connection: the database engine and the Celery client are built on first
use, and the schema is never migrated here (`ferbench db upgrade` is the prestart step).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import AppResources
from api.middleware import BodySizeLimit, SecurityHeaders
from api.routers import (datasets, ensembles, experiments, health, leaderboard, models, pages, plots, predict, recipes,
                         registry, reports, sweeps)
from api.submission import SubmissionInvalid, problem
from ferbench.settings import Settings, get_settings

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _validation_body(errors: list[dict]) -> dict:
    cleaned = [problem(list(err.get("loc", [])), str(err.get("msg", "")), err.get("type", "value_error"), err.get("input"))
               for err in errors]
    return {"detail": jsonable_encoder(cleaned)}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SubmissionInvalid)
    async def _invalid_submission(_: Request, exc: SubmissionInvalid) -> JSONResponse:
        return JSONResponse(_validation_body(exc.errors), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database error: %s", type(exc).__name__)
        return JSONResponse({"detail": "the database is unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the trace goes to the log, never to the client
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    resources = AppResources(settings)

    @asynccontextmanager
    async def lifespan(instance: FastAPI) -> AsyncIterator[None]:
        yield
        resources.close()
        serve_client = getattr(instance.state, "serve_client", None)  # POST /predict's connection pool
        if serve_client is not None:
            await serve_client.aclose()

    # FastAPIOffline serves Swagger UI's and ReDoc's assets from its wheel: /docs works without internet.
    app = FastAPIOffline(
        lifespan=lifespan,
        # No spec validator badge: Swagger UI would send the schema to an outside service.
        swagger_ui_parameters={"validatorUrl": None},
        title="FER Bench",
        version="0.1.0",
        description="Submit facial emotion recognition experiments, follow them, and rank the results.",
        debug=False,
    )
    app.state.resources = resources
    for router in (health.router, models.router, recipes.router, datasets.router, experiments.router, plots.router,
                   leaderboard.router, ensembles.router, sweeps.router, reports.router, pages.router, registry.router,
                   predict.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    experiments.document_ranges_in_force(app, settings)
    _install_error_handlers(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Idempotency-Key"], allow_credentials=False)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       per_path={"/datasets": (settings.max_upload_bytes, "FERBENCH_MAX_UPLOAD_BYTES"),
                                 "/predict": (settings.max_predict_bytes, "FERBENCH_MAX_PREDICT_BYTES")})

    return app
