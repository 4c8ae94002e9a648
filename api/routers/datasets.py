"""GET /datasets: every dataset and where it can be used; POST /datasets: register an uploaded dataset."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from sqlalchemy.orm import Session

from api.dataset_registration import UploadRefused, register_upload
from api.deps import get_session, get_settings_dep, require_read_key, require_write_key
from api.schemas import DatasetOut, DatasetUploadOut, Problem
from ferbench.db.models import UploadedDataset
from ferbench.db.uploaded_datasets import list_uploaded
from ferbench.settings import Settings

router = APIRouter(tags=["datasets"])

USABLE_LOCAL = "workers that have it in their own data folder (FERBENCH_DATA_DIR) or cache"
USABLE_BUILT_IN = "every worker (generated on first use)"
USABLE_UPLOADED = "every worker: downloaded by fingerprint from the tracking server's artifact store"


def _uploaded_out(row: UploadedDataset) -> DatasetOut:
    from fer_models.data.labels import CLASS_NAMES

    return DatasetOut(name=row.name, present=True, classes=list(CLASS_NAMES), split_sizes=dict(row.split_sizes),
                      cached=True, how_to_get=f"uploaded from {row.filename}", origin="uploaded",
                      usable_on=USABLE_UPLOADED, fingerprint=row.fingerprint, upload_bytes=row.upload_bytes,
                      created_at=row.created_at)


@router.get("/datasets", response_model=list[DatasetOut], dependencies=[Depends(require_read_key)])
def datasets(settings: Settings = Depends(get_settings_dep), session: Session = Depends(get_session)) -> list[DatasetOut]:
    """Every dataset: local ones (this server's data folder), the built-in generator, and uploaded ones,
    with where each can be used."""
    from fer_models.data.catalog import list_datasets

    out = []
    for info in list_datasets(settings.data_dir, settings.cache_dir):
        data = info.to_dict()
        data.pop("source", None)  # a server path: not the client's business
        built_in = info.name == "synthetic"
        out.append(DatasetOut(**data, origin="built-in" if built_in else "local",
                              usable_on=USABLE_BUILT_IN if built_in else USABLE_LOCAL))
    return out + [_uploaded_out(row) for row in list_uploaded(session)]


@router.post("/datasets", response_model=DatasetUploadOut, status_code=201,
             dependencies=[Depends(require_write_key)],
             responses={200: {"model": DatasetUploadOut, "description": "The same content was already registered"},
                        409: {"model": Problem}, 413: {"model": Problem}, 415: {"model": Problem},
                        422: {"model": Problem}, 503: {"model": Problem}})
def upload_dataset(file: UploadFile = File(description="A .zip (a folder packed as a zip too) or a .csv"),
                   name: str | None = Form(default=None, description="Dataset name; default: the file's name"),
                   settings: Settings = Depends(get_settings_dep),
                   session: Session = Depends(get_session)):  # type: ignore[no-untyped-def]
    """Register a dataset: decoded once and checked like a local source, its cache stored in the tracking
    server's artifact store by content fingerprint, so that every worker can train on it."""
    from fastapi.responses import JSONResponse

    from fer_models.tracking.retry import TrackingUnavailableError

    filename = file.filename or "upload"
    try:
        registration, report = register_upload(session, settings, file.file, filename, name)
    except UploadRefused as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    except TrackingUnavailableError as exc:
        raise HTTPException(status_code=503, detail=f"the tracking server is unavailable, nothing was "
                                                    f"registered: {exc}") from None
    row = registration.dataset
    if registration.created:
        message = f"registered dataset {row.name!r} (fingerprint {row.fingerprint})"
    elif name and row.name != name:
        message = f"the same content is already registered as {row.name!r}: use that name"
    else:
        message = f"the same content is already registered as {row.name!r}: nothing new stored"
    body = DatasetUploadOut(created=registration.created, message=message, dataset=_uploaded_out(row), report=report)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if registration.created else 200)
