"""Uploaded datasets' decoded caches in the tracking server's artifact store, one run per content fingerprint.

Every worker already reaches the tracking server, so an uploaded dataset travels through it and nothing
new has to run. The runs live in MLflow experiment `ferbench/uploaded-datasets`; each holds one artifact,
`dataset-cache/<fingerprint>.fbcache`, and is tagged with the fingerprint, the name and the file's sha256.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fer_models.tracking.retry import with_retries
from fer_models.tracking.run_logger import ensure_experiment
from fer_models.tracking.uri import validate_tracking_uri

EXPERIMENT = "ferbench/uploaded-datasets"
ARTIFACT_DIR = "dataset-cache"
SUFFIX = ".fbcache"


@dataclass(frozen=True)
class StoredCache:
    run_id: str
    artifact_path: str  # inside the run: dataset-cache/<fingerprint>.fbcache


def _client(tracking_uri: str):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=validate_tracking_uri(tracking_uri))


def store_cache(tracking_uri: str, cache_file: Path, *, name: str, fingerprint: str, sha256: str) -> StoredCache:
    """Upload the cache file under its fingerprint; the run ends FINISHED only once the file is stored."""
    client = _client(tracking_uri)
    experiment_id = ensure_experiment(client, EXPERIMENT, tracking_uri)
    run = with_retries(lambda: client.create_run(experiment_id, run_name=f"{name}-{fingerprint[:12]}", tags={
        "dataset": name, "fingerprint": fingerprint, "cache_sha256": sha256}), what="run creation")
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory(prefix="ferbench-upload-") as staging:
        named = Path(staging) / f"{fingerprint}{SUFFIX}"
        try:
            named.hardlink_to(cache_file)
        except OSError:  # another filesystem: a copy
            shutil.copyfile(cache_file, named)
        try:
            with_retries(lambda: client.log_artifact(run_id, str(named), ARTIFACT_DIR), what="artifact upload")
        except BaseException:
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                client.set_terminated(run_id, status="FAILED")
            raise
    # MLflow prints "View run ... at: URL" to stdout for server URIs, which would corrupt `--json` output.
    with contextlib.redirect_stdout(io.StringIO()):
        with_retries(lambda: client.set_terminated(run_id, status="FINISHED"), what="run termination")
    return StoredCache(run_id, f"{ARTIFACT_DIR}/{named.name}")


def download_cache(tracking_uri: str, stored: StoredCache, into: Path) -> Path:
    """Download the cache file into the folder `into` (created); returns the file's path there."""
    client = _client(tracking_uri)
    Path(into).mkdir(parents=True, exist_ok=True)
    local = with_retries(lambda: client.download_artifacts(stored.run_id, stored.artifact_path, str(into)),
                         what="artifact download")
    return Path(local)
