"""Predictions through the serving path against the `fer` package (issue 13), side by side in one run.

1. A mini-Xception (the architecture and size of fer's classifier) is trained briefly on synthetic
   faces through the engine, logged to a private MLflow server and registered as `champion`.
2. Cropped faces per second: batches of 256 of that run's test faces (48x48 PNGs) POSTed to the
   serving process with faces=cropped (upload, decode, crop, model, JSON), against fer's own batch
   path on the same faces (its resize to 64x64, scaling and its default TFLite classifier), in
   alternated rounds (best of each). Target: at least 2x. The model alone, called in process as the
   serving process calls it, is printed beside it.
3. Latency of POST /predict through the API for a 640x480 JPEG with one face (the API forwards to the
   serving process): p95 over sequential requests. Target: at most 30 ms. fer's detect_emotions on the
   same photo, in process, is printed beside it.
4. Agreement: the run's test faces sent through the serving path give exactly the test accuracy the
   run logged to MLflow.

    python -m bench.bench_serving                      # 256-face batches, 200 photo requests
    python -m bench.bench_serving --faces 1400 --requests 60 --batches 5 --rounds 3
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from fer_models.tracking.model_registry import DEFAULT_ALIAS, DEFAULT_MODEL_NAME

TARGET_RATIO = 2.0
TARGET_P95_MS = 30.0
NAME = DEFAULT_MODEL_NAME


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _train_and_register(home: Path, tracking_uri: str, faces: int, epochs: int) -> tuple[Any, float]:
    """The trained run's dataset and its logged test accuracy; the run's model registered as champion."""
    from fer_models.data.catalog import load_dataset
    from fer_models.tracking.logged_model import run_model_id
    from fer_models.tracking.model_registry import ModelRegistry
    from fer_models.training.engine import run_experiment
    from fer_models.training.spec import parse_spec
    from ferbench.testing.face_folders import write_face_folders

    write_face_folders(home / "data", "faces", n=faces)
    spec = parse_spec({"model": "mini-xception", "dataset": "faces", "epochs": epochs, "batch_size": 64, "seed": 0})
    result = run_experiment(spec, work_dir=home / "run", data_dir=home / "data", cache_dir=home / "cache",
                            tracking_uri=tracking_uri, tags={"experiment_id": "bench"})
    registry = ModelRegistry(tracking_uri)
    run_id = result.mlflow_run_id
    model_id = run_model_id(registry.client, run_id)
    registry.register(name=NAME, source=f"models:/{model_id}", run_id=run_id, model_id=model_id, alias=DEFAULT_ALIAS,
                      tags={"experiment_id": "bench"})
    logged = registry.client.get_run(run_id).data.metrics["test_accuracy"]
    dataset = load_dataset("faces", data_dir=home / "data", cache_dir=home / "cache", split_seed=spec.split_seed)
    return dataset, float(logged)


def _multipart(faces: list[bytes]) -> tuple[bytes, str]:
    """One request body built once, so the timing is the server's work and the transfer, not the client's encoding."""
    request = httpx.Request("POST", "http://x/predict", files=[("image", (f"{i}.png", f, "image/png"))
                                                              for i, f in enumerate(faces)])
    return request.read(), request.headers["content-type"]


def _serving_crops_per_second(url: str, faces: list[bytes], batches: int) -> float:
    body, kind = _multipart(faces)
    params = {"faces": "cropped", "name": NAME}
    with httpx.Client(timeout=120) as client:
        client.post(f"{url}/predict", params=params, content=body, headers={"content-type": kind}).raise_for_status()
        rates = []
        for _ in range(batches):
            start = time.perf_counter()
            answer = client.post(f"{url}/predict", params=params, content=body, headers={"content-type": kind})
            rates.append(len(faces) / (time.perf_counter() - start))
            answer.raise_for_status()
    return max(rates)


def _model_only_rate(tracking_uri: str, crops: np.ndarray, batches: int) -> float:
    """The registered model as the serving process runs it, called in this process: the share of the
    serving path that is the model itself."""
    from fer_models.tracking.model_registry import ModelRegistry
    from ferbench.serving.models import load_version

    registry = ModelRegistry(tracking_uri)
    loaded = load_version(registry, registry.resolve(NAME, DEFAULT_ALIAS))
    loaded.predict(crops)
    best = 0.0
    for _ in range(batches):
        start = time.perf_counter()
        loaded.predict(crops)
        best = max(best, len(crops) / (time.perf_counter() - start))
    return best


def _served_accuracy(url: str, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> float:
    predicted: list[str] = []
    with httpx.Client(timeout=120) as client:
        for start in range(0, len(images), 256):
            files = [("image", (f"{i}.png", _png(x), "image/png")) for i, x in enumerate(images[start:start + 256])]
            answer = client.post(f"{url}/predict", params={"faces": "cropped", "name": NAME}, files=files)
            answer.raise_for_status()
            predicted += [image["faces"][0]["emotion"] for image in answer.json()["images"]]
    return float(np.mean([p == class_names[int(y)] for p, y in zip(predicted, labels)]))


def _photo() -> np.ndarray:
    from fer_models.data.synthetic import generate_faces

    face, _ = generate_faces(1, seed=5, size=160)
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(140, 25, (480, 640)), 0, 255).astype(np.uint8)
    photo[140:300, 240:400] = face[0]
    return photo


def _latencies_ms(api_url: str, jpeg: bytes, requests: int) -> tuple[list[float], int]:
    times = []
    faces = 0
    with httpx.Client(timeout=60) as client:
        for i in range(requests + 10):
            start = time.perf_counter()
            answer = client.post(f"{api_url}/predict", params={"name": NAME},
                                 files={"image": ("photo.jpg", jpeg, "image/jpeg")})
            elapsed = (time.perf_counter() - start) * 1000
            answer.raise_for_status()
            faces = len(answer.json()["images"][0]["faces"])
            if i >= 10:  # the first requests warm the connection pools and the model
                times.append(elapsed)
    return times, faces


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=2800, help="Synthetic faces to train and test on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256, help="Cropped faces per request")
    parser.add_argument("--batches", type=int, default=10, help="Timed requests of cropped faces per round (best counts)")
    parser.add_argument("--rounds", type=int, default=3, help="Alternated rounds of fer and the serving path")
    parser.add_argument("--requests", type=int, default=200, help="Timed photo requests for the latency")
    parser.add_argument("--fer-dir", type=Path, default=Path("var/bench-fer"),
                        help="Where the `fer` package is installed for the baseline (pip --target)")
    args = parser.parse_args()

    from bench import fer_baseline
    from ferbench.services.mlflow_server import start_mlflow_server
    from ferbench.testing.live_api import live_api
    from ferbench.testing.live_serve import live_serve

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        home = Path(tmp)
        server = start_mlflow_server(home / "mlflow")
        try:
            dataset, logged_accuracy = _train_and_register(home, server.url, args.faces, args.epochs)
            test_x, test_y = dataset.subset("test")
            crops = [test_x[i % len(test_x)] for i in range(args.batch)]
            photo = _photo()
            jpeg = io.BytesIO()
            Image.fromarray(photo).save(jpeg, "JPEG", quality=90)

            fer = fer_baseline.load_fer(args.fer_dir.resolve())
            logging.getLogger("httpx").setLevel(logging.WARNING)  # fer's import turns on INFO logging for all
            fer_photo_ms = fer_baseline.photo_latencies_ms(fer, np.repeat(photo[..., None], 3, axis=2),
                                                           min(args.requests, 50))
            model_rate = _model_only_rate(server.url, np.stack(crops), args.batches)
            pngs = [_png(c) for c in crops]
            with live_serve(home=home, tracking_uri=server.url) as serve:
                # Alternated rounds, best of each: the machine's other load hits both sides alike.
                fer_rates, rates = [], []
                for _ in range(args.rounds):
                    fer_rates.append(fer_baseline.crops_per_second(fer, np.stack(crops), args.batches))
                    rates.append(_serving_crops_per_second(serve.url, pngs, args.batches))
                fer_rate, rate = max(fer_rates), max(rates)
                served_accuracy = _served_accuracy(serve.url, test_x, test_y, dataset.class_names)
                direct, _ = _latencies_ms(serve.url, jpeg.getvalue(), args.requests)
                with live_api(home=home, database_url=f"sqlite:///{home / 'api.db'}", broker_url="redis://127.0.0.1:1/0",
                              log_level="warning", access_log=False,
                              extra_env={"FERBENCH_SERVE_URL": serve.url, "MLFLOW_TRACKING_URI": server.url}) as api:
                    latencies, found = _latencies_ms(api.url, jpeg.getvalue(), args.requests)
        finally:
            server.stop()

    ratio = rate / fer_rate
    p95 = _p95(latencies)
    report = {
        "model": "mini-xception", "batch": args.batch,
        "serving_crops_per_s": round(rate, 1), "fer_crops_per_s": round(fer_rate, 1), "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO,
        "model_only_crops_per_s": round(model_rate, 1), "fer_rounds": [round(r) for r in fer_rates],
        "serving_rounds": [round(r) for r in rates],
        "predict_p50_ms": round(statistics.median(latencies), 2), "predict_p95_ms": round(p95, 2),
        "serve_direct_p50_ms": round(statistics.median(direct), 2), "serve_direct_p95_ms": round(_p95(direct), 2),
        "target_p95_ms": TARGET_P95_MS, "faces_found_in_photo": found,
        "fer_detect_emotions_p50_ms": round(statistics.median(fer_photo_ms), 2),
        "fer_detect_emotions_p95_ms": round(_p95(fer_photo_ms), 2),
        "test_images": int(len(test_y)), "logged_test_accuracy": logged_accuracy, "served_test_accuracy": served_accuracy,
        "accuracy_agrees": served_accuracy == logged_accuracy,
    }
    print(json.dumps(report, indent=2))
    print(f"cropped faces/s, batch {args.batch}: serving {rate:,.0f} vs fer {fer_rate:,.0f} = {ratio:.2f}x "
          f"(target {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print(f"  the model alone, in process: {model_rate:,.0f} faces/s = {model_rate / fer_rate:.2f}x fer")
    print(f"POST /predict, 640x480 JPEG, one face: p95 {p95:.1f} ms (target {TARGET_P95_MS:.0f} ms: "
          f"{'met' if p95 <= TARGET_P95_MS else 'NOT met'}); straight to the serving process p95 "
          f"{_p95(direct):.1f} ms; fer.detect_emotions in process p95 {_p95(fer_photo_ms):.1f} ms")
    print(f"test accuracy through the serving path {served_accuracy:.6f} vs logged {logged_accuracy:.6f}: "
          f"{'agree' if report['accuracy_agrees'] else 'DIFFER'}")
    return 0 if report["accuracy_agrees"] and found == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
