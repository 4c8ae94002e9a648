"""Which datasets exist and how to load one: decoded once into the cache, reused while unchanged (TF-free)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from fer_models.data.cache import (CacheCorrupt, cache_path, caches_of, read_cache, read_cache_meta,
                                   write_cache)
from fer_models.data.dataset import SPLIT_NAMES, Dataset, DecodeNotes
from fer_models.data.fingerprint import source_fingerprint
from fer_models.data.labels import CLASS_NAMES, NUM_CLASSES
from fer_models.data.layouts import (ACCEPTED_LAYOUTS, HOW_TO_GET, SourceRef, detect_source, fer2013_candidates,
                                     locate, other_dataset_names)
from fer_models.data.splits import assign_split, protocol_of, split_fingerprint
from fer_models.errors import DatasetError
from fer_models.vocabulary import Protocol

log = logging.getLogger(__name__)

SYNTHETIC_SIZE = 4200  # 600 faces per class
SYNTHETIC_SEED = 0
DEFAULT_SPLIT_SEED = 42
BUILTIN = ("fer2013", "synthetic")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    present: bool
    classes: tuple[str, ...]
    split_sizes: dict[str, int] | None  # None until the dataset is decoded (ferbench preprocess)
    source: str | None  # where it was found: a path, "built-in generator", or "cache" only
    cached: bool
    how_to_get: str

    def to_dict(self) -> dict:
        data = asdict(self)
        data["classes"] = list(self.classes)
        return data


def check_name(name: str) -> None:
    """DatasetError unless `name` may name a dataset (a folder, an upload, a cache file)."""
    if not _NAME.match(name or ""):
        raise DatasetError(f"invalid dataset name {name!r}: accepted are fer2013, synthetic or a folder name "
                           "of letters, digits and _ . + -")


def _synthetic_key() -> str:
    from fer_models.data import synthetic

    return f"synthetic|n={SYNTHETIC_SIZE}|seed={SYNTHETIC_SEED}|size=48|{synthetic._EXPRESSIONS.tobytes().hex()}"


def _how_to_get(name: str, data_dir: Path) -> str:
    if name in HOW_TO_GET:
        return HOW_TO_GET[name].format(data_dir=data_dir)
    return f"put a folder {Path(data_dir) / name}/ of emotion-named subfolders (or {name}.zip) in {data_dir}"


def _not_found(name: str, data_dir: Path) -> DatasetError:
    if name == "fer2013":
        looked = ", ".join(str(p) for p in fer2013_candidates(Path(data_dir)))
    else:
        looked = f"{Path(data_dir) / name}/, {Path(data_dir) / name}.zip"
    return DatasetError(f"dataset {name!r} not found (looked for {looked}); {_how_to_get(name, data_dir)}. "
                        f"Accepted layouts: {ACCEPTED_LAYOUTS}")


def dataset_names(data_dir: Path) -> list[str]:
    """Names of the datasets present under the data folder (synthetic always)."""
    names = ["synthetic"]
    if locate("fer2013", Path(data_dir)) is not None:
        names.insert(0, "fer2013")
    return names + [n for n in other_dataset_names(Path(data_dir)) if n not in names]


def _decode(ref: SourceRef, *, skip_bad: bool, progress: Progress | None):
    from fer_models.data.image_reader import Decoded

    if ref.kind == "synthetic":
        from fer_models.data.synthetic import generate_faces

        if progress:
            progress(0, SYNTHETIC_SIZE)
        images, labels = generate_faces(SYNTHETIC_SIZE, seed=SYNTHETIC_SEED)
        if progress:
            progress(SYNTHETIC_SIZE, SYNTHETIC_SIZE)
        return Decoded(images, labels, None, DecodeNotes(source="built-in generator",
                                                         layout=f"synthetic: {SYNTHETIC_SIZE} faces, seed 0"))
    if ref.kind == "csv":
        from fer_models.data.csv_reader import decode_csv

        return decode_csv(ref.path, skip_bad=skip_bad, progress=progress)
    from fer_models.data.image_reader import decode_tree

    return decode_tree(ref.path, ref.kind, progress=progress)


def _split(labels: np.ndarray, images: np.ndarray, official: np.ndarray | None, test_part: np.ndarray | None,
           split_seed: int) -> tuple[np.ndarray, str, Protocol]:
    """The split, its fingerprint and protocol: validation (and, without official test images, the test set)
    carved from the source's training images."""
    split = assign_split(labels, official, split_seed)
    protocol = protocol_of(official)
    return split, split_fingerprint(images, labels, split, protocol=protocol, test_part=test_part), protocol


def _from_cache(name: str, arrays: dict[str, np.ndarray], meta: dict, split_seed: int) -> Dataset:
    images, labels = arrays["images"], arrays["labels"]
    official, test_part = arrays.get("official"), arrays.get("test_part")
    if int(meta["split_seed"]) == split_seed:
        split, fingerprint, protocol = arrays["split"], str(meta["split_fingerprint"]), protocol_of(official)
    else:
        split, fingerprint, protocol = _split(labels, images, official, test_part, split_seed)
    return Dataset(name=name, images=images, labels=labels, split=split, class_names=tuple(meta["class_names"]),
                   source_fingerprint=str(meta["source_fingerprint"]), split_fingerprint=fingerprint,
                   split_seed=split_seed, notes=DecodeNotes.from_json(meta.get("notes", {})), protocol=protocol,
                   test_part=test_part)


def _try_cache(path: Path, name: str, fingerprint: str | None) -> tuple[dict[str, np.ndarray], dict] | None:
    try:
        content = read_cache(path)
    except CacheCorrupt as exc:
        log.warning("cache %s is corrupt (%s): rebuilding it", path, exc)
        return None
    meta = content.meta
    if meta.get("name") != name or (fingerprint is not None and meta.get("source_fingerprint") != fingerprint):
        return None
    if not {"images", "labels", "split"} <= set(content.arrays):
        log.warning("cache %s lacks arrays: rebuilding it", path)
        return None
    return content.arrays, meta


def load_dataset(name: str, *, data_dir: Path, cache_dir: Path, source: Path | None = None,
                 split_seed: int = DEFAULT_SPLIT_SEED, progress: Progress | None = None,
                 skip_bad: bool = False, label: str | None = None) -> Dataset:
    """The dataset `name`, decoded once into `cache_dir` and reused while its source is unchanged.

    `source` overrides where it is read from; without one the dataset is looked for under `data_dir`,
    and when it is not there the newest intact cache of that name (e.g. from `ferbench preprocess
    --source`) is used. `label` replaces the source's path in the cache and the report (an upload's
    temporary file is no one's business).
    """
    check_name(name)
    if name == "synthetic" and source is not None:
        raise DatasetError("dataset 'synthetic' is generated: it takes no --source")
    ref = detect_source(Path(source)) if source is not None else locate(name, Path(data_dir))
    if ref is None:
        for path in caches_of(Path(cache_dir), name):
            hit = _try_cache(path, name, None)
            if hit is not None:
                log.info("dataset %s: source not under %s, using its cache %s", name, data_dir, path)
                return _from_cache(name, *hit, split_seed)
        raise _not_found(name, Path(data_dir))
    fingerprint = source_fingerprint(ref, synthetic_key=_synthetic_key() if ref.kind == "synthetic" else "")
    target = cache_path(Path(cache_dir), name, fingerprint)
    if target.exists():
        hit = _try_cache(target, name, fingerprint)
        if hit is not None:
            return _from_cache(name, *hit, split_seed)
    decoded = _decode(ref, skip_bad=skip_bad, progress=progress)
    if label is not None:
        decoded = replace(decoded, notes=replace(decoded.notes, source=label))
    split, split_fp, protocol = _split(decoded.labels, decoded.images, decoded.official, decoded.test_part,
                                       split_seed)
    arrays = {"images": decoded.images, "labels": decoded.labels, "split": split}
    if decoded.official is not None:
        arrays["official"] = decoded.official
    if decoded.test_part is not None:
        arrays["test_part"] = decoded.test_part
    sizes = np.bincount(split.astype(np.int64), minlength=len(SPLIT_NAMES))
    meta = {
        "name": name, "kind": ref.kind, "source": label or ref.describe(), "source_fingerprint": fingerprint,
        "class_names": list(CLASS_NAMES), "split_seed": split_seed, "split_fingerprint": split_fp,
        "split_sizes": {s: int(sizes[i]) for i, s in enumerate(SPLIT_NAMES)}, "notes": decoded.notes.to_json(),
        "protocol": protocol,
        "created": time.time(),
    }
    write_cache(target, arrays, meta)
    for stale in caches_of(Path(cache_dir), name):
        if stale != target:
            stale.unlink(missing_ok=True)
    return Dataset(name=name, images=decoded.images, labels=decoded.labels, split=split, class_names=CLASS_NAMES,
                   source_fingerprint=fingerprint, split_fingerprint=split_fp, split_seed=split_seed,
                   notes=decoded.notes, protocol=protocol, test_part=decoded.test_part)


def load_cache_file(path: Path, name: str, *, split_seed: int = DEFAULT_SPLIT_SEED) -> Dataset:
    """The dataset in one cache file (an uploaded dataset's, downloaded by fingerprint), whatever its name on disk."""
    hit = _try_cache(Path(path), name, None)
    if hit is None:
        raise DatasetError(f"the cache file {path} of dataset {name!r} is corrupt or belongs to another dataset; "
                           "delete it to download it again")
    return _from_cache(name, *hit, split_seed)


def _cached_meta(cache_dir: Path, name: str) -> dict | None:
    for path in caches_of(Path(cache_dir), name):
        try:
            return read_cache_meta(path)
        except CacheCorrupt:
            continue
    return None


def list_datasets(data_dir: Path, cache_dir: Path) -> list[DatasetInfo]:
    """Every dataset known here: fer2013 and synthetic always listed (present or not), then other folders."""
    infos = []
    names = list(BUILTIN) + [n for n in other_dataset_names(Path(data_dir)) if n not in BUILTIN]
    for name in names:
        ref = locate(name, Path(data_dir))
        meta = _cached_meta(Path(cache_dir), name)
        sizes = meta.get("split_sizes") if meta else None
        if name == "synthetic" and sizes is None:
            labels = np.random.default_rng(SYNTHETIC_SEED).permutation(np.arange(SYNTHETIC_SIZE) % NUM_CLASSES)
            split = assign_split(labels, None, DEFAULT_SPLIT_SEED)
            counts = np.bincount(split.astype(np.int64), minlength=len(SPLIT_NAMES))
            sizes = {s: int(counts[i]) for i, s in enumerate(SPLIT_NAMES)}
        if ref is not None:
            where = ref.describe()
        elif meta is not None:
            where = f"cache of {meta.get('source', '?')}"
        else:
            where = None
        infos.append(DatasetInfo(name=name, present=ref is not None or meta is not None, classes=CLASS_NAMES,
                                 split_sizes=sizes, source=where, cached=meta is not None,
                                 how_to_get=_how_to_get(name, Path(data_dir))))
    return infos


