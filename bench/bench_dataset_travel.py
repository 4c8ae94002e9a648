"""Datasets that travel: what a second worker (its own empty home and data folder) pays before its first
experiment on an uploaded dataset, against decoding the same zip locally, measured in the same run.

The upload goes through the API's registration (decode once, cache stored in a real `mlflow server`'s
artifact store, row in SQL); the worker side is the task's own step (`worker.datasets`): download by
fingerprint, sha256 check, the host's pool, then the dataset loaded from it, ready to train. A later
experiment on the same host must find it there and download nothing.

    nice -n 10 python -m bench.bench_dataset_travel --zip ../shared/datasets/fer2013-train.zip
    python -m bench.bench_dataset_travel --images 3000 --repeats 1      # quick: a subset of the zip
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import DEFAULT_ZIP, fer2013_zip_path

NAME = "fer2013-upload"
TARGET_RATIO = 1.5  # the bound: first download + cache at most 1.5x a local decode


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _local_decode(zip_path: Path, cache_dir: Path) -> int:
    from fer_models.data.catalog import load_dataset

    return len(load_dataset("fer2013", data_dir=cache_dir / "none", cache_dir=cache_dir, source=zip_path))


def _worker_fetch(home: Path) -> tuple[int, bool]:
    """What the task does before training on an uploaded dataset, on a worker whose home is `home`."""
    from fer_models.data.catalog import load_cache_file
    from ferbench.settings import get_settings
    from worker.datasets import uploaded_dataset_file

    settings = get_settings().model_copy(update={"home": home, "data_dir": home / "data"})
    hit = uploaded_dataset_file(NAME, settings)
    assert hit is not None, "the upload was not registered"
    return len(load_cache_file(hit.path, NAME)), hit.downloaded


def _register(zip_path: Path, settings: Any) -> dict[str, Any]:
    from api.dataset_registration import register_upload
    from ferbench.db.session import make_session_factory

    with make_session_factory(settings.resolved_database_url)() as session, open(zip_path, "rb") as stream:
        registration, report = register_upload(session, settings, stream, zip_path.name, NAME)
    return {"created": registration.created, "images": report["images"],
            "cache_mb": registration.dataset.cache_bytes / 1e6, "upload_mb": registration.dataset.upload_bytes / 1e6}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, default=None, help=f"FER2013's zip (default {DEFAULT_ZIP})")
    parser.add_argument("--images", type=int, default=0, help="Use every k-th image, about this many (0: all)")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each side; medians are reported")
    args = parser.parse_args(argv)
    source = args.zip or fer2013_zip_path()
    if not source.is_file():
        raise SystemExit(f"FER2013 zip not found at {source}: pass --zip or set FERBENCH_FER2013_ZIP")

    from ferbench.db.migrate import upgrade
    from ferbench.services.mlflow_server import start_mlflow_server
    from ferbench.settings import Settings, get_settings

    with tempfile.TemporaryDirectory(prefix="bench-travel-") as tmp:
        root = Path(tmp)
        zip_path = source
        if args.images:
            from bench.bench_data import subset_zip

            zip_path = subset_zip(source, args.images, root / source.name)
        database_url = f"sqlite:///{root / 'ferbench.db'}"
        upgrade(database_url)
        server = start_mlflow_server(root / "mlflow")
        try:
            # The worker side reads its settings from the environment, as a worker process does.
            os.environ.update(FERBENCH_DATABASE_URL=database_url, MLFLOW_TRACKING_URI=server.url)
            get_settings.cache_clear()
            api_settings = Settings(home=root / "api", data_dir=root / "api" / "data")
            registered, upload_s = _timed(lambda: _register(zip_path, api_settings))
            local, fetched, later = [], [], []
            for k in range(args.repeats):
                _, seconds = _timed(lambda: _local_decode(zip_path, root / f"local-{k}"))
                local.append(seconds)
                home = root / f"worker-{k}"
                (n, downloaded), seconds = _timed(lambda: _worker_fetch(home))
                assert downloaded and n == registered["images"], (downloaded, n)
                fetched.append(seconds)
                (n, downloaded), seconds = _timed(lambda: _worker_fetch(home))
                assert not downloaded, "a later experiment on the same host downloaded the dataset again"
                later.append(seconds)
        finally:
            server.stop()
    baseline, first, again = (statistics.median(v) for v in (local, fetched, later))
    ratio = first / baseline
    print(f"dataset: {zip_path.name}, {registered['images']} images, zip {registered['upload_mb']:.1f} MB, "
          f"decoded cache {registered['cache_mb']:.1f} MB")
    print(f"upload + registration (decode once, store in MLflow): {upload_s:.2f} s")
    print(f"local decode of the zip (baseline, median of {args.repeats}): {baseline:.2f} s")
    print(f"second worker, first experiment: download + verify + cache + load: {first:.2f} s "
          f"= {ratio:.2f}x the local decode (target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    print(f"second worker, later experiment: no download, load from its pool: {again:.2f} s "
          f"= {again / baseline:.2f}x the local decode")


if __name__ == "__main__":
    main()
