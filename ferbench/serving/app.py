"""The serving process's HTTP app (`ferbench serve`): POST /predict and GET /health.

It may import Keras (the API may not): the API's POST /predict forwards the request here unchanged.
Every bad request gets a 4xx naming what was wrong; an unexpected error answers 500 and the process
carries on: no input can stop it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.middleware import BodySizeLimit
from fer_models.tracking.model_registry import DEFAULT_ALIAS, DEFAULT_MODEL_NAME, ModelRegistry, UnknownModelRef
from ferbench.serving.images import BadImage, decode_image
from ferbench.serving.models import ModelCache
from ferbench.serving.predict import ImageResult, predict_faces
from ferbench.settings import Settings, get_settings

log = logging.getLogger(__name__)
FACE_MODES = ("detect", "cropped")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in _TRUE + _FALSE:
        raise BadRequest(f"query parameter {name}={value!r} is not accepted; use true or false")
    return value in _TRUE


def _options(request: Request) -> dict[str, Any]:
    faces = request.query_params.get("faces", "detect")
    if faces not in FACE_MODES:
        raise BadRequest(f"faces={faces!r} is not accepted; use {' or '.join(FACE_MODES)}")
    return {"name": request.query_params.get("name", DEFAULT_MODEL_NAME),
            "ref": request.query_params.get("model", DEFAULT_ALIAS) or DEFAULT_ALIAS,
            "annotate": _flag(request, "annotate"), "cropped": faces == "cropped"}


async def _uploads(request: Request, limit: int) -> list[tuple[str | None, bytes]]:
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise BadRequest(f"send the images as multipart/form-data file fields, not {kind or 'no content type'}", 415)
    try:
        form = await request.form(max_files=limit, max_fields=limit)
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body could not be read: {exc} (at most {limit} images per request)",
                         400) from None
    files = [(v.filename, await v.read()) for _, v in form.multi_items() if isinstance(v, UploadFile)]
    await form.close()
    if not files:
        raise BadRequest("no image in the request: send one or more images as multipart file fields "
                         "(JPEG, PNG, WebP or BMP)")
    return files


def _body(results: list[ImageResult], model: Any, ref: str) -> dict[str, Any]:
    return {
        "model": {"name": model.name, "version": model.version, "reference": ref, "experiment_id": model.experiment_id},
        "images": [{
            "filename": r.image.filename, "width": r.image.width, "height": r.image.height, "notes": r.image.notes,
            "faces": [{"box": {"x": f.box.x, "y": f.box.y, "width": f.box.width, "height": f.box.height},
                       "emotion": f.emotion, "probabilities": f.probabilities} for f in r.faces],
        } for r in results],
    }


class Predictor:
    """What one POST /predict does once its uploads are read; runs on a worker thread."""

    def __init__(self, settings: Settings, cache: ModelCache) -> None:
        from ferbench.serving.faces import FaceDetector

        self.settings, self.cache, self.detector = settings, cache, FaceDetector()

    def __call__(self, files: list[tuple[str | None, bytes]], options: dict[str, Any]) -> Response:
        from ferbench.serving.annotate import annotated_png

        if options["annotate"] and len(files) != 1:
            raise BadRequest(f"annotate=true draws on one image; this request has {len(files)}")
        model = self.cache.get(options["name"], options["ref"])
        images = [decode_image(data, name, max_pixels=self.settings.max_image_pixels, want_rgb=options["annotate"])
                  for name, data in files]
        results = predict_faces(images, model, None if options["cropped"] else self.detector)
        if options["annotate"]:
            return Response(annotated_png(results[0]), media_type="image/png",
                            headers={"X-Model-Version": model.version, "X-Faces": str(len(results[0].faces))})
        return Response(orjson.dumps(_body(results, model, options["ref"])), media_type="application/json")


def create_serve_app(settings: Settings | None = None, cache: ModelCache | None = None) -> Starlette:
    settings = settings or get_settings()
    if cache is None:
        if not settings.mlflow_tracking_uri:
            raise RuntimeError("the serving process needs MLFLOW_TRACKING_URI: the registry it serves from")
        cache = ModelCache(ModelRegistry(settings.mlflow_tracking_uri), settings.serve_refresh_s)
    predictor = Predictor(settings, cache)

    async def predict(request: Request) -> Response:
        try:
            options = _options(request)
            files = await _uploads(request, settings.max_images_per_request)
            return await run_in_threadpool(predictor, files, options)
        except (BadRequest, BadImage) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        except UnknownModelRef as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except Exception:  # noqa: BLE001 - the process must outlive any request
            log.exception("predict failed")
            return JSONResponse({"detail": "internal error in the serving process; see its log"}, status_code=500)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        cache.start(preload=(DEFAULT_MODEL_NAME, DEFAULT_ALIAS))
        yield
        cache.stop()

    app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)],
                    lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_predict_bytes)
    return app
