"""Registering an uploaded dataset: check it, decode it once, store its cache by fingerprint, then its row.

The order is what keeps registration whole: nothing is written before the upload decodes cleanly, the
row is inserted only after the cache is in the artifact store, and a failure anywhere leaves no row
(at worst an unreferenced artifact run, which no listing shows). The caller has already bounded the
upload's size (BodySizeLimit) before any of it was stored.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from fer_models.errors import DatasetError
from ferbench.db import uploaded_datasets
from ferbench.db.models import UploadedDataset
from ferbench.settings import Settings

ACCEPTED_UPLOADS = (".zip", ".csv")
ACCEPTED_TEXT = ("a .zip (Kaggle's train/<emotion>/ and test/<emotion>/ folders, or any emotion-named "
                 "subfolders, e.g. a folder packed as a zip) or a .csv (emotion,pixels[,Usage])")
_COPY_CHUNK = 1 << 20


class UploadRefused(Exception):
    """The upload is not registered: `status` is the HTTP answer, the message says what and where."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Registration:
    dataset: UploadedDataset
    created: bool  # False: the same content was already registered (possibly under another name)


def uploaded_names(session_factory: Callable[[], Session]) -> list[str]:
    """Names of the uploaded datasets, which a spec may name as well as the local ones."""
    with session_factory() as session:
        return uploaded_datasets.uploaded_names(session)


def name_for(filename: str, requested: str | None) -> str:
    """The requested name, else the file's stem; DatasetError (a 422) when it cannot name a dataset."""
    from fer_models.data.catalog import check_name

    name = requested.strip() if requested and requested.strip() else Path(filename).stem
    check_name(name)
    return name


def _kind_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in ACCEPTED_UPLOADS:
        raise UploadRefused(415, f"{filename!r}: unknown dataset format {suffix or '(no extension)'!r}; "
                                 f"accepted: {ACCEPTED_TEXT}")
    return suffix[1:]


def _local_clash(name: str, settings: Settings) -> str | None:
    from fer_models.data.catalog import BUILTIN, dataset_names

    if name in dataset_names(settings.data_dir) or name in BUILTIN:
        return (f"dataset name {name!r} is taken by a local dataset (built in or in the server's data folder); "
                "upload it under another name (--name, or the form field `name`)")
    return None


def _clash_message(name: str, existing: UploadedDataset, fingerprint: str) -> str:
    return (f"dataset name {name!r} is already registered with different content (fingerprint "
            f"{existing.fingerprint}); this upload's fingerprint is {fingerprint}: upload it under another name")


def _decode(name: str, upload: Path, filename: str, work: Path):  # type: ignore[no-untyped-def]
    """The decoded dataset and its cache file; UploadRefused (422) naming what was wrong and where."""
    from fer_models.data.cache import caches_of
    from fer_models.data.catalog import load_dataset

    try:
        dataset = load_dataset(name, data_dir=work / "none", cache_dir=work / "cache", source=upload,
                               label=f"upload {filename}")
    except DatasetError as exc:
        raise UploadRefused(422, f"{filename}: {str(exc).replace(str(upload), filename)}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UploadRefused(422, f"{filename}: broken archive or file ({type(exc).__name__}: {exc}); "
                                 f"accepted: {ACCEPTED_TEXT}") from None
    if len(dataset) == 0:
        raise UploadRefused(422, f"{filename}: no images decoded; accepted: {ACCEPTED_TEXT}")
    return dataset, caches_of(work / "cache", name)[0]


def register_upload(session: Session, settings: Settings, stream: BinaryIO, filename: str,
                    requested_name: str | None) -> tuple[Registration, dict]:
    """Register the uploaded file; returns the registration and the data report (as a dict)."""
    from fer_models.data.fingerprint import file_sha256, source_fingerprint
    from fer_models.data.layouts import SourceRef
    from fer_models.data.report import dataset_report
    from fer_models.tracking.dataset_store import store_cache

    kind = _kind_of(filename)
    try:
        name = name_for(filename, requested_name)
    except DatasetError as exc:
        raise UploadRefused(422, str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="ferbench-dataset-") as tmp:
        work = Path(tmp)
        upload = work / f"upload.{kind}"
        with open(upload, "wb") as out:
            shutil.copyfileobj(stream, out, _COPY_CHUNK)
        size = upload.stat().st_size
        if kind == "zip" and not zipfile.is_zipfile(upload):
            raise UploadRefused(422, f"{filename}: not a readable zip archive (no central directory: truncated "
                                     f"or not a zip); accepted: {ACCEPTED_TEXT}")
        fingerprint = source_fingerprint(SourceRef(kind, upload))
        existing = uploaded_datasets.clashing(session, name, fingerprint)
        if existing is not None:
            if existing.fingerprint == fingerprint:
                return Registration(existing, created=False), existing.report
            raise UploadRefused(409, _clash_message(name, existing, fingerprint))
        clash = _local_clash(name, settings)
        if clash:
            raise UploadRefused(409, clash)
        if not settings.mlflow_tracking_uri:
            raise UploadRefused(503, "no tracking server configured (MLFLOW_TRACKING_URI): uploaded datasets "
                                     "are stored in its artifact store")
        dataset, cache_file = _decode(name, upload, filename, work)
        report = dataset_report(dataset).to_dict()
        digest = file_sha256(cache_file)
        stored = store_cache(settings.mlflow_tracking_uri, cache_file, name=name, fingerprint=fingerprint,
                             sha256=digest)
        row = UploadedDataset(name=name, fingerprint=fingerprint, kind=kind, filename=filename[:255],
                              upload_bytes=size, cache_bytes=cache_file.stat().st_size, cache_sha256=digest,
                              mlflow_run_id=stored.run_id, artifact_path=stored.artifact_path,
                              split_sizes=dataset.split_sizes(), report=report)
    winner = uploaded_datasets.register(session, row)
    if winner is not row:  # a concurrent upload of this name or content won
        if winner.fingerprint != fingerprint:
            raise UploadRefused(409, _clash_message(name, winner, fingerprint))
        return Registration(winner, created=False), winner.report
    return Registration(row, created=True), report
