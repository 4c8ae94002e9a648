"""Before training: an uploaded dataset's cache, downloaded by fingerprint into this host's pool when missing.

Local datasets (the worker's data folder, the built-in generator) need nothing here. An uploaded one is
named by its row; its cache comes from the tracking server's artifact store, is verified against the
registered sha256 and kept in FERBENCH_HOME/dataset-pool (bounded by FERBENCH_DATASET_CACHE_BYTES), so
later experiments on this host start without a download.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fer_models.data.pool import DatasetPool, PoolHit
from ferbench.settings import Settings
from worker import records

log = logging.getLogger(__name__)


def uploaded_dataset_file(name: str, settings: Settings) -> PoolHit | None:
    """The local cache file of uploaded dataset `name`, or None when `name` is not an uploaded dataset."""
    ref = records.uploaded_dataset(name)
    if ref is None:
        return None
    from fer_models.errors import DatasetError
    from fer_models.tracking.dataset_store import StoredCache, download_cache

    uri = settings.mlflow_tracking_uri
    if not uri:
        raise DatasetError(f"dataset {name!r} was uploaded and is kept by the tracking server, but this worker "
                           "has no MLFLOW_TRACKING_URI to download it from")

    def fetch(into: Path) -> Path:
        return download_cache(uri, StoredCache(ref.mlflow_run_id, ref.artifact_path), into)

    hit = DatasetPool(settings.dataset_pool_dir, settings.dataset_cache_bytes).get(
        ref.fingerprint, ref.cache_sha256, ref.cache_bytes, fetch)
    log.info("dataset %s (uploaded, fingerprint %s): %s in %.2f s", name, ref.fingerprint,
             "downloaded" if hit.downloaded else "already on this host", hit.seconds)
    return hit
