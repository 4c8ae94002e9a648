"""Turn a POST /experiments body into validated, resolved spec dicts (one per experiment to run).

Accepted bodies: one spec object, or a list of them; each may carry `repeats: N`, which runs the
same spec with seeds seed..seed+N-1. Every problem is reported with its location, the value and
what is accepted; nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ferbench.settings import Settings

MAX_REPEATS = 100
MAX_EXPERIMENTS_PER_REQUEST = 500
SEED_MAX = 2**31 - 1
# Fields that name things registered on the server; a client must never make the worker open a path.
NAME_FIELDS = ("recipe", "model", "dataset", "weights", "augmentation")


class SubmissionInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


@dataclass(frozen=True)
class Submission:
    specs: list[dict[str, Any]]
    single: bool  # one spec object without repeats: answer with one experiment, not a list
    body: Any  # the parsed JSON, for the Idempotency-Key hash


def problem(loc: list[Any], msg: str, kind: str, value: Any = None) -> dict[str, Any]:
    """One 422 item; the rejected value is echoed only when short and JSON can carry it (never NaN/Infinity)."""
    err: dict[str, Any] = {"loc": loc, "msg": msg, "type": kind}
    finite = not (isinstance(value, float) and not math.isfinite(value))
    if isinstance(value, (str, int, float, bool)) and finite and not (isinstance(value, str) and len(value) > 200):
        err["input"] = value
    return err


def spec_context(settings: Settings) -> dict[str, Any]:
    """How this server validates a spec: its caps are the ranges in force; no weight files."""
    return {"allow_weight_files": False, **settings.spec_caps}


def _looks_like_path(value: str) -> bool:
    return any(s in value for s in ("/", "\\", "..", "~", ":", "\x00"))


def _spec_errors(exc: ValidationError, loc: list[Any]) -> list[dict[str, Any]]:
    from fer_models.training.spec import HYPERPARAMETER_ERROR, ExperimentSpec

    out = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field; accepted: {', '.join([*ExperimentSpec.model_fields, 'repeats'])}"
        elif err["type"] == "missing":
            msg = "field required"
        where = [*loc, *err["loc"]]
        if err["type"] == HYPERPARAMETER_ERROR:  # one item per bad hyperparameter, at its own location
            given = err["input"] if isinstance(err["input"], dict) else {}
            out += [problem([*where, name], text, "value_error", given.get(name))
                    for name, text in err["ctx"]["problems"].items()]
            continue
        out.append(problem(where, msg, err["type"], err.get("input")))
    return out


def _request_problems(item: dict[str, Any], repeats: Any, loc: list[Any]) -> list[dict[str, Any]]:
    """What the API refuses before the spec is validated: a bad `repeats`, path-like names."""
    errors = []
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        errors.append(problem([*loc, "repeats"], f"must be an integer from 1 to {MAX_REPEATS}", "value_error", repeats))
    for name in NAME_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and _looks_like_path(value):
            errors.append(problem([*loc, name], "path-like values are not accepted: name a registered "
                                  f"{name} (see GET /recipes, GET /models and GET /datasets)", "value_error", value))
    return errors


def _seed_overflow(item: dict[str, Any], repeats: int, loc: list[Any]) -> list[dict[str, Any]]:
    seed = item.get("seed", 0)
    if isinstance(seed, int) and 0 <= seed <= SEED_MAX < seed + repeats - 1:
        return [problem([*loc, "seed"], f"seed + repeats - 1 must be at most {SEED_MAX}", "value_error", seed)]
    return []


def _one(item: Any, loc: list[Any], settings: Settings, datasets: list[str]) -> list[dict[str, Any]]:
    """Every problem of one spec at once: the request's own checks, then the spec's, minus fields already refused."""
    from fer_models.training.spec import ExperimentSpec

    if not isinstance(item, dict):
        raise SubmissionInvalid([problem(loc, f"an experiment spec must be a JSON object, got {type(item).__name__}",
                                         "model_type")])
    item = dict(item)
    repeats = item.pop("repeats", 1)
    errors = _request_problems(item, repeats, loc)
    refused = {e["loc"][len(loc)] for e in errors}
    if "repeats" not in refused:
        errors += _seed_overflow(item, repeats, loc)
    try:
        spec = ExperimentSpec.model_validate({k: v for k, v in item.items() if k not in refused},
                                             context={**spec_context(settings), "datasets": datasets})
    except ValidationError as exc:
        raise SubmissionInvalid(errors + [e for e in _spec_errors(exc, loc)
                                          if (e["loc"][len(loc):] or [None])[0] not in refused]) from None
    if errors:
        raise SubmissionInvalid(errors)
    resolved = spec.model_dump(mode="json")
    return [{**resolved, "seed": spec.seed + k} for k in range(repeats)]


def load_json(raw: bytes) -> Any:
    """A request body's JSON, or SubmissionInvalid saying what is wrong with it and where."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SubmissionInvalid([problem(["body"], "the body is not UTF-8 text", "json_invalid")]) from None
    except json.JSONDecodeError as exc:
        raise SubmissionInvalid([problem(["body"], f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                        "json_invalid")]) from None
    except RecursionError:
        raise SubmissionInvalid([problem(["body"], "JSON nested too deeply", "json_invalid")]) from None


def one_spec(item: Any, loc: list[Any], settings: Settings, datasets: list[str]) -> dict[str, Any]:
    """One spec object (no `repeats`) validated and resolved, or SubmissionInvalid naming every bad field."""
    return _one(item, loc, settings, datasets)[0]


def with_uploaded(local: list[str], named: set[Any], uploaded: Callable[[], Sequence[str]] | None) -> list[str]:
    """The dataset names a spec may use: the local ones, and the uploaded ones (`uploaded()` reads them from the
    database) only when a spec names one that is not local, so that validating needs no database otherwise."""
    if uploaded is None or named <= {*local, None}:
        return local
    return [*local, *uploaded()]


def parse_submission(raw: bytes, settings: Settings,
                     uploaded: Callable[[], Sequence[str]] | None = None) -> Submission:
    """The validated specs; `uploaded()` names the uploaded datasets, accepted beside the local ones."""
    from fer_models.data.catalog import dataset_names

    body = load_json(raw)
    if isinstance(body, dict):
        items, single = [body], body.get("repeats", 1) == 1
    elif isinstance(body, list):
        items, single = body, False
        if not body:
            raise SubmissionInvalid([problem(["body"], "an empty list: send at least one experiment spec", "too_short")])
    else:
        raise SubmissionInvalid([problem(["body"], "expected an experiment spec object or a list of them",
                                        "model_type")])
    datasets = with_uploaded(dataset_names(settings.data_dir),
                             {item.get("dataset") for item in items if isinstance(item, dict)}, uploaded)
    specs: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            specs += _one(item, ["body"] if isinstance(body, dict) else ["body", i], settings, datasets)
        except SubmissionInvalid as exc:
            errors += exc.errors
    if not errors and len(specs) > MAX_EXPERIMENTS_PER_REQUEST:
        errors.append(problem(["body"], f"{len(specs)} experiments in one request; accepted: at most "
                             f"{MAX_EXPERIMENTS_PER_REQUEST}", "too_long"))
    if errors:
        raise SubmissionInvalid(errors)
    return Submission(specs=specs, single=single, body=body)
