"""Data-layer benchmark: decoding FER2013 (zip and CSV) into the cache, loading the cache, and the
augmented input pipeline, each against the naive way measured in the same run.

    python -m bench.bench_data --zip ../shared/datasets/fer2013-train.zip
    (or FERBENCH_FER2013_ZIP=... python -m bench.bench_data; without either, ../shared/datasets/fer2013-train.zip)
    python -m bench.bench_data --images 5000          # quick: every k-th image of the zip, all classes
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench import DEFAULT_ZIP, fer2013_zip_path  # noqa: E402
from fer_models.data.cache import caches_of, read_cache  # noqa: E402
from fer_models.data.catalog import load_dataset  # noqa: E402
from fer_models.data.labels import label_for_folder  # noqa: E402


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def naive_zip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith("/"):
                continue
            with archive.open(name) as handle:
                images.append(np.asarray(Image.open(handle).convert("L").resize((48, 48))))
            labels.append(label_for_folder(name.split("/")[-2]))
    return np.stack(images), np.array(labels)


def subset_zip(source: Path, n: int, target: Path) -> Path:
    """A zip of about `n` images of `source`, every k-th one, so each class folder keeps its share."""
    with zipfile.ZipFile(source) as full, zipfile.ZipFile(target, "w") as small:
        files = [name for name in full.namelist() if not name.endswith("/")]
        for name in files[::max(1, len(files) // n)][:n]:
            small.writestr(name, full.read(name))
    return target


def naive_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            labels.append(int(row[0]))
            images.append(np.array(row[1].split(), dtype=np.uint8).reshape(48, 48))
    return np.stack(images), np.array(labels)


def write_challenge_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    with open(path, "w") as handle:
        handle.write("emotion,pixels,Usage\n")
        for image, label in zip(images, labels):
            handle.write(f"{label},{' '.join(map(str, image.ravel().tolist()))},Training\n")


def naive_augment_from_directory(folder: Path, n: int, rng: np.random.Generator) -> int:
    """What ImageDataGenerator.flow_from_directory did: read, decode and augment one file at a time."""
    files = sorted(folder.rglob("*.jpg"))[:n]
    for file in files:
        image = Image.open(file).convert("L")
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image = image.rotate(rng.uniform(-10, 10), translate=tuple(rng.uniform(-4.8, 4.8, 2)),
                             resample=Image.Resampling.BILINEAR)
        np.asarray(image, dtype=np.float32)
    return len(files)


def pipeline_rate(images: np.ndarray, preset: str, batch: int = 512, batches: int = 30) -> tuple[float, str]:
    import keras
    import tensorflow as tf

    from fer_models.data.augmentation import build_augmentation
    from fer_models.data.pipeline import to_model_input

    layer = build_augmentation(preset, seed=0)
    step = tf.function(lambda x: layer(x, training=True), jit_compile=False)
    x = to_model_input(images[: batch * 8])
    step(x[:batch])  # trace
    start = time.perf_counter()
    for i in range(batches):  # uint8 -> float32 conversion included, as in training
        np.asarray(step(to_model_input(images[(i % 8) * batch:(i % 8 + 1) * batch])))
    return batch * batches / (time.perf_counter() - start), keras.backend.backend()


def training_rate(images: np.ndarray, labels: np.ndarray, n: int = 2048) -> tuple[float, str]:
    import keras

    from fer_models.data.pipeline import to_model_input

    try:
        from fer_models.models.registry import get_model

        model, name = get_model("cnn-small"), "cnn-small (fer_models registry)"
    except Exception as exc:  # noqa: BLE001 - the benchmark says which model it fell back to
        model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255.0),
                                  keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
                                  keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(7, activation="softmax")])
        name = f"plain small keras CNN (cnn-small unavailable: {exc})"
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = to_model_input(images[:n]), labels[:n]
    model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0)  # compile
    _, seconds = _timed(lambda: model.fit(x, y, epochs=1, batch_size=64, verbose=0))
    return n / seconds, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=fer2013_zip_path(),
                        help="FER2013 Kaggle zip (train/<emotion>/*.jpg); default $FERBENCH_FER2013_ZIP or "
                             f"{DEFAULT_ZIP}")
    parser.add_argument("--images", type=int, default=None,
                        help="only about this many images of the zip, from every class (at least 4096: the "
                             "pipeline is timed on batches of 512 from 4096 images)")
    args = parser.parse_args()
    if not args.zip.is_file():
        parser.error(f"no FER2013 zip at {args.zip}: give --zip PATH or set FERBENCH_FER2013_ZIP")
    if args.images is not None and args.images < 4096:
        parser.error("--images must be at least 4096")
    with tempfile.TemporaryDirectory(prefix="ferbench-bench-") as tmp:
        tmp_dir = Path(tmp)
        if args.images:
            args.zip = subset_zip(Path(args.zip), args.images, tmp_dir / "fer2013-subset.zip")
        data_dir, cache_dir = tmp_dir / "data", tmp_dir / "cache"
        print(f"cpu cores: {os.cpu_count()}; load average at start {os.getloadavg()[0]:.1f} (the machine is shared); "
              f"source: {args.zip}")

        dataset, ours_zip = _timed(lambda: load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir,
                                                         source=args.zip))
        (naive_images, naive_labels), naive_zip_s = _timed(lambda: naive_zip(args.zip))
        n = len(dataset)
        same = np.array_equal(np.sort(naive_labels), np.sort(dataset.labels))
        print(f"\n[zip -> cache] {n} images: ours {ours_zip:.2f} s (decode + split + fingerprint + cache write), "
              f"naive PIL per file {naive_zip_s:.2f} s (arrays only, no cache) -> ratio naive/ours "
              f"{naive_zip_s / ours_zip:.2f}x; same labels: {same}")

        csv_path = tmp_dir / "fer2013.csv"
        _, write_s = _timed(lambda: write_challenge_csv(csv_path, dataset.images, dataset.labels))
        print(f"\n[csv] wrote {csv_path.stat().st_size / 1e6:.0f} MB challenge CSV in {write_s:.1f} s")
        from_csv, ours_csv = _timed(lambda: load_dataset("fer2013csv", data_dir=data_dir, cache_dir=cache_dir,
                                                         source=csv_path))
        _, naive_csv_s = _timed(lambda: naive_csv(csv_path))
        print(f"[csv -> cache] ours {ours_csv:.2f} s (hash + parse + cache write), naive per-row str.split "
              f"{naive_csv_s:.2f} s -> ratio {naive_csv_s / ours_csv:.2f}x; "
              f"identical to zip arrays: {np.array_equal(from_csv.images, dataset.images)}")

        (cache_file,) = caches_of(cache_dir, "fer2013")
        raw_bytes = dataset.images.nbytes
        tracemalloc.start()
        _, load_s = _timed(lambda: read_cache(cache_file))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        _, full_load_s = _timed(lambda: load_dataset("fer2013", data_dir=data_dir, cache_dir=cache_dir,
                                                     source=args.zip))
        print(f"\n[cache load] {cache_file.stat().st_size / 1e6:.1f} MB file: read + checksum {load_s * 1000:.0f} ms; "
              f"load_dataset with source check (zip sha256) {full_load_s * 1000:.0f} ms; "
              f"peak memory {peak / 1e6:.1f} MB = {peak / raw_bytes:.2f}x the raw uint8 images "
              f"({raw_bytes / 1e6:.1f} MB)")

        unpacked = tmp_dir / "unpacked"
        with zipfile.ZipFile(args.zip) as archive:
            archive.extractall(unpacked)
        rng = np.random.default_rng(0)
        count, naive_aug_s = _timed(lambda: naive_augment_from_directory(unpacked, 4000, rng))
        naive_rate = count / naive_aug_s
        print("\n[augmented pipeline, 48x48, preset 'standard']")
        print("  keras 3.15 has no keras.preprocessing.image.ImageDataGenerator (removed in Keras 3); baseline is "
              "the same per-file work done in PIL: read, decode, flip, rotate/shift one image at a time")
        for preset in ("light", "standard", "strong"):
            rate, backend = pipeline_rate(dataset.images, preset)
            print(f"  ours '{preset}' ({backend}, in-graph keras.ops layers, batch 512): {rate:,.0f} images/s "
                  f"-> {rate / naive_rate:.1f}x the naive {naive_rate:,.0f} images/s")
        train_rate, model_name = training_rate(dataset.images, dataset.labels)
        print(f"  load average now {os.getloadavg()[0]:.1f}")
        print(f"  training rate of {model_name} on this CPU: {train_rate:,.0f} images/s "
              f"(the pipeline must stay above it)")


if __name__ == "__main__":
    main()
