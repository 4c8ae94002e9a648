"""A typed client of the FER Bench HTTP API: the calls the CLI makes, each answer parsed into the
API's own response models (api.schemas), so a body that is not the documented shape is an error here
rather than a guess in the caller.

Every failure, whether the API is unreachable, answers an error status or answers an unexpected body,
is one ApiError whose message says what went wrong and, where it can, what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from api.schemas import (DatasetUploadOut, ExperimentOut, LeaderboardOut, ModelOut, ModelVersionOut, PredictOut,
                         RegistryOut, SweepList, SweepOut, WriteupReportOut)
from fer_models.errors import FerBenchError
from ferbench.settings import Settings

T = TypeVar("T")

# POST /experiments answers one experiment for a single spec, a list for a list body or repeats > 1.
_SUBMITTED: TypeAdapter[ExperimentOut | list[ExperimentOut]] = TypeAdapter(ExperimentOut | list[ExperimentOut])
_EXPERIMENT = TypeAdapter(ExperimentOut)
_LEADERBOARD = TypeAdapter(LeaderboardOut)
_MODELS = TypeAdapter(list[ModelOut])
_WRITEUP_REPORT = TypeAdapter(WriteupReportOut)
_SWEEP = TypeAdapter(SweepOut)
_SWEEPS = TypeAdapter(SweepList)
_UPLOADED = TypeAdapter(DatasetUploadOut)
# Decoding a large upload on the server takes a while: the answer may come long after the last byte is sent.
_UPLOAD_TIMEOUT = httpx.Timeout(30.0, read=900.0, write=900.0)
_VERSION = TypeAdapter(ModelVersionOut)
_REGISTRY = TypeAdapter(RegistryOut)
_PREDICTION = TypeAdapter(PredictOut)


class ApiError(FerBenchError):
    """The API answered with an error or an unexpected body, or could not be reached."""


def default_api_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


class ApiClient:
    """GET and POST on one API; use as a context manager, or call `close()`."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str | None = None) -> ApiClient:
        """A client of `base_url` (default: the API these settings start), with the first configured API key."""
        keys = settings.api_key_list
        return cls(base_url or default_api_url(settings), api_key=keys[0] if keys else None)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, body: Mapping[str, Any]) -> list[ExperimentOut]:
        """POST /experiments: the queued experiments, one per seed."""
        answer = self._call(_SUBMITTED, "POST", "/experiments", json=dict(body))
        return answer if isinstance(answer, list) else [answer]

    def experiment(self, experiment_id: str) -> ExperimentOut:
        return self._call(_EXPERIMENT, "GET", f"/experiments/{experiment_id}")

    def leaderboard(self, *, metric: str = "accuracy", dataset: str | None = None, model: str | None = None,
                    limit: int | None = None, best_per_model: bool = False, protocol: str | None = None,
                    recipe: str | None = None) -> LeaderboardOut:
        params: dict[str, Any] = {"metric": metric, "dataset": dataset, "model": model, "limit": limit,
                                  "best_per_model": "true" if best_per_model else None, "protocol": protocol,
                                  "recipe": recipe}
        return self._call(_LEADERBOARD, "GET", "/leaderboard",
                          params={k: v for k, v in params.items() if v is not None})

    def create_ensemble(self, body: Mapping[str, Any]) -> ExperimentOut:
        """POST /ensembles: the queued ensemble experiment."""
        return self._call(_EXPERIMENT, "POST", "/ensembles", json=dict(body))

    def compare(self, a: str, b: str) -> dict[str, Any]:
        """GET /compare: a minus b on the same test images."""
        return self._request("GET", "/compare", params={"a": a, "b": b}).json()

    def create_sweep(self, body: Mapping[str, Any]) -> SweepOut:
        """POST /sweeps: the sweep with its first trials queued."""
        return self._call(_SWEEP, "POST", "/sweeps", json=dict(body))

    def sweep(self, sweep_id: str) -> SweepOut:
        return self._call(_SWEEP, "GET", f"/sweeps/{sweep_id}")

    def sweeps(self, *, status: str | None = None, limit: int = 50) -> SweepList:
        params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
        return self._call(_SWEEPS, "GET", "/sweeps", params=params)

    def cancel_sweep(self, sweep_id: str) -> SweepOut:
        return self._call(_SWEEP, "POST", f"/sweeps/{sweep_id}/cancel")

    def models(self) -> list[ModelOut]:
        return self._call(_MODELS, "GET", "/models")

    def make_writeup_report(self, experiment_ids: list[str]) -> WriteupReportOut:
        """POST /reports/writeup: the table of these finished write-up experiments, stored and logged by the API."""
        return self._call(_WRITEUP_REPORT, "POST", "/reports/writeup", json={"experiment_ids": experiment_ids})

    def writeup_report(self, report_id: str | None = None) -> WriteupReportOut:
        return self._call(_WRITEUP_REPORT, "GET", "/reports/writeup", params={"id": report_id} if report_id else None)

    def writeup_png(self, report_id: str) -> bytes:
        return self._request("GET", "/reports/writeup.png", params={"id": report_id}).content

    def upload_dataset(self, path: Path, name: str | None = None) -> DatasetUploadOut:
        """POST /datasets with the .zip or .csv at `path` (a folder is packed as a zip by the caller)."""
        with open(path, "rb") as handle:
            return self._call(_UPLOADED, "POST", "/datasets", files={"file": (Path(path).name, handle)},
                              data={"name": name} if name else {}, timeout=_UPLOAD_TIMEOUT)

    def promote(self, experiment_id: str, *, name: str, alias: str) -> ModelVersionOut:
        """POST /registry/promote: the new registered version, with `alias` on it."""
        return self._call(_VERSION, "POST", "/registry/promote",
                          json={"experiment_id": experiment_id, "name": name, "alias": alias})

    def registry(self) -> RegistryOut:
        return self._call(_REGISTRY, "GET", "/registry")

    def predict(self, files: list[tuple[str, bytes]], *, model: str, annotate: bool = False,
                cropped: bool = False) -> PredictOut | bytes:
        """POST /predict with (filename, bytes) images: the faces found, or the annotated PNG with `annotate`."""
        params = {"model": model, "annotate": "true" if annotate else "false",
                  "faces": "cropped" if cropped else "detect"}
        uploads = [("image", (name, data)) for name, data in files]
        if annotate:
            return self._request("POST", "/predict", params=params, files=uploads).content
        return self._call(_PREDICTION, "POST", "/predict", params=params, files=uploads)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.base_url} ({exc}); start it with `ferbench up` "
                           "or pass --api-url") from exc
        if response.status_code >= 400:
            raise ApiError(f"{method} {path} answered {response.status_code}: {_error_text(response)}")
        return response

    def _call(self, shape: TypeAdapter[T], method: str, path: str, **kwargs: Any) -> T:
        response = self._request(method, path, **kwargs)
        try:
            return shape.validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(f"{method} {path} answered a body this client does not know "
                           f"({exc.error_count()} problem(s), first: {_first_problem(exc)}); "
                           f"is {self.base_url} a FER Bench API of this version?") from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors: one "field: message" per problem
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail if isinstance(d, dict))
    return detail if isinstance(detail, str) else json.dumps(detail)
