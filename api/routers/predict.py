"""POST /predict: forwarded unchanged to the serving process (FERBENCH_SERVE_URL), which holds the models.

The API stays free of TensorFlow and Keras: it neither decodes the images nor runs a model, it passes
the multipart body and the query on and hands back the serving process's answer as it came.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import get_settings_dep, require_read_key
from api.schemas import PredictOut, Problem
from fer_models.tracking.model_registry import DEFAULT_ALIAS, DEFAULT_MODEL_NAME
from ferbench.settings import Settings

router = APIRouter(tags=["predictions"])
_FORWARDED_HEADERS = ("content-type", "x-model-version", "x-faces")


def _client(request: Request) -> httpx.AsyncClient:
    client = getattr(request.app.state, "serve_client", None)
    if client is None:
        # Generous read timeout: the first request for a model waits for it to load.
        client = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=2.0))
        request.app.state.serve_client = client
    return client


@router.post(
    "/predict", response_model=PredictOut, dependencies=[Depends(require_read_key)],
    responses={200: {"content": {"image/png": {}}, "description": "The faces found, or with annotate=true the "
                                                                  "image with boxes and labels drawn"},
               404: {"model": Problem}, 413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem},
               503: {"model": Problem}},
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"image": {"type": "array", "items": {"type": "string", "format": "binary"},
                                                   "description": "One or more JPEG, PNG, WebP or BMP images"}}}}}}},
)
async def predict(
    request: Request,
    settings: Settings = Depends(get_settings_dep),
    model: str = Query(DEFAULT_ALIAS, max_length=128, description="Alias, version number or experiment id"),
    name: str = Query(DEFAULT_MODEL_NAME, max_length=128, description="Registered model name"),
    annotate: bool = Query(False, description="Answer a PNG with boxes and labels drawn (one image)"),
    faces: str = Query("detect", pattern="^(detect|cropped)$",
                       description="detect: find faces; cropped: each image is one face"),
) -> Response:
    """Find the faces in each uploaded image and predict each one's emotion (box, emotion, seven probabilities).

    No face is an empty list, not an error; an animated image is read at its first frame (the image's
    notes say so); an unknown alias is a 404 naming the aliases that exist."""
    url = f"{settings.resolved_serve_url}/predict"
    query = {"model": model, "name": name, "annotate": str(annotate).lower(), "faces": faces}
    try:
        answer = await _client(request).post(url, params=query, content=await request.body(),
                                             headers={"content-type": request.headers.get("content-type", "")})
    except httpx.HTTPError:
        return JSONResponse({"detail": f"the serving process at {settings.resolved_serve_url} is unreachable; "
                                       "start it with `ferbench serve` or `ferbench up`"},
                            status_code=503, headers={"Retry-After": "5"})
    headers = {k: v for k, v in answer.headers.items() if k.lower() in _FORWARDED_HEADERS}
    return Response(answer.content, status_code=answer.status_code, headers=headers)
