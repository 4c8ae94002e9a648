"""Turn a POST /sweeps body into a checked sweep, or one 422 naming every bad field.

Checked before anything is stored or queued: the base spec (as POST /experiments checks it), every
parameter of the space (a known field or hyperparameter, a non-empty choice, low < high, log ranges
above 0, and that each value it can take still gives a valid spec), the caps of this server, and the
objective (validation metrics only: the test split is never tuned on). TF-free.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from api.schemas import SweepIn, SweepParamIn, SweepPrunerIn
from api.submission import SubmissionInvalid, load_json, one_spec, problem, spec_context, with_uploaded
from fer_models.vocabulary import SWEEP_OBJECTIVES
from ferbench.db.models import Sweep, utcnow
from ferbench.settings import Settings
from ferbench.sweeps.advance import new_study_name
from ferbench.sweeps.space import FIXED_FIELDS, HP_PREFIX, Param, space_to_dict

Problems = list[dict[str, Any]]


@dataclass(frozen=True)
class SweepRequest:
    body: SweepIn
    base: dict[str, Any]  # resolved
    params: list[Param]
    pruner: dict[str, Any]
    direction: str

    def to_row(self) -> Sweep:
        """The sweep's new row (status running, a fresh id and study name), as POST /sweeps stores it."""
        body = self.body
        return Sweep(id=str(uuid.uuid4()), status="running", model=self.base["model"], dataset=self.base["dataset"],
                     base_spec=self.base, space=space_to_dict(self.params), sampler=body.sampler,
                     sampler_seed=body.sampler_seed, pruner=self.pruner, objective=body.objective,
                     direction=self.direction, n_trials=body.n_trials, parallel=body.parallel, seeds=body.seeds,
                     study_name=new_study_name(), cancel_requested=False, created_at=utcnow())


def tunable_fields() -> list[str]:
    from fer_models.training.spec import ExperimentSpec

    return [f for f in ExperimentSpec.model_fields if f not in FIXED_FIELDS]


def _hyperparameters(model: Any) -> list[str] | None:
    from fer_models.errors import FerBenchError
    from fer_models.models.registry import get_model_info

    try:
        return [p.name for p in get_model_info(str(model)).hyperparameters]
    except FerBenchError:
        return None


def _known_name(name: str, model: Any, loc: list[Any]) -> Problems:
    if name.startswith(HP_PREFIX):
        names = _hyperparameters(model)
        if names is None or name.removeprefix(HP_PREFIX) in names:
            return []  # an unknown model is reported at base.model
        return [problem(loc, f"model {model!r} has no hyperparameter {name.removeprefix(HP_PREFIX)!r}; accepted: "
                        f"{', '.join(HP_PREFIX + n for n in names)}", "value_error", name)]
    if name in tunable_fields():
        return []
    why = " (fixed for a whole sweep)" if name in FIXED_FIELDS else ""
    hp = ", ".join(HP_PREFIX + n for n in (_hyperparameters(model) or []))
    return [problem(loc, f"unknown field {name!r}{why}; accepted: {', '.join(tunable_fields())}"
                    + (f", or a hyperparameter of the model: {hp}" if hp else ""), "value_error", name)]


def _range_problems(p: SweepParamIn, loc: list[Any]) -> Problems:
    if p.kind == "choice":
        if not p.values:
            return [problem([*loc, "values"], "an empty choice: give at least one value", "too_short")]
        return []
    missing = [problem([*loc, end], f"required by a {p.kind} range", "missing") for end in ("low", "high")
               if getattr(p, end) is None]
    if missing:
        return missing
    low, high = float(p.low), float(p.high)  # type: ignore[arg-type]
    if not (math.isfinite(low) and math.isfinite(high)):
        return [problem(loc, "low and high must be finite numbers", "value_error")]
    if low >= high:
        return [problem([*loc, "low"], f"low must be below high, got low={low:g} >= high={high:g}", "value_error", low)]
    if p.kind == "log" and low <= 0:
        return [problem([*loc, "low"], f"a log range needs low > 0, got {low:g}", "value_error", low)]
    if p.kind == "log" and p.step is not None:
        return [problem([*loc, "step"], "a log range takes no step", "value_error", p.step)]
    if p.kind == "int" and not all(float(v).is_integer() for v in (low, high, p.step or 1)):
        return [problem(loc, "an int range needs integer low, high and step", "value_error")]
    if p.step is not None and p.step > high - low:
        return [problem([*loc, "step"], f"step {p.step:g} is wider than the range {low:g}..{high:g}", "value_error")]
    return []


def _spec_problem(base: dict[str, Any], values: dict[str, Any], settings: Settings) -> str | None:
    from fer_models.training.spec import ExperimentSpec, describe_validation_error
    from ferbench.sweeps.space import apply

    try:
        ExperimentSpec.model_validate(apply(base, values), context=spec_context(settings))
    except ValidationError as exc:
        return describe_validation_error(exc)
    return None


def _space_problems(space: Any, base: dict[str, Any] | None, model: Any, settings: Settings) -> tuple[Problems, list[Param]]:
    loc0 = ["body", "space"]
    if not isinstance(space, dict) or not space:
        return [problem(loc0, "a search space is required: an object of field -> {kind, ...}", "missing")], []
    errors: Problems = []
    params: list[Param] = []
    for name, raw in space.items():
        loc = [*loc0, name]
        found = _known_name(str(name), model, loc)
        try:
            p = SweepParamIn.model_validate(raw)
        except ValidationError as exc:
            errors += found + [problem([*loc, *e["loc"]], e["msg"], e["type"], e.get("input")) for e in exc.errors()]
            continue
        found += _range_problems(p, loc)
        if not found:
            param = Param(name=str(name), kind=p.kind, low=p.low, high=p.high, step=p.step, values=tuple(p.values or ()))
            params.append(param)
            if base is not None:
                found += [problem(loc, f"{name}={v!r} leaves no valid spec: {why}", "value_error", v)
                          for v in param.candidates() if (why := _spec_problem(base, {param.name: v}, settings))]
        errors += found
    if not errors and base is not None and len(params) > 1:
        for end, pick in (("low", 0), ("high", -1)):  # combinations: every parameter at its low, then its high end
            values = {p.name: p.candidates()[pick] for p in params}
            if why := _spec_problem(base, values, settings):
                errors.append(problem(loc0, f"the space's {end} ends together ({values}) leave no valid spec: {why}",
                                      "value_error"))
    return errors, params


def _objective_problems(objective: Any) -> Problems:
    loc = ["body", "objective"]
    if objective in SWEEP_OBJECTIVES:
        return []
    text = str(objective)
    if text.startswith("test_") or text in ("accuracy", "f1_macro", "balanced_accuracy") or not text.startswith("val_"):
        why = ("a sweep never tunes on the test split (its figures would no longer estimate new data); "
               if text.startswith("test_") or not text.startswith("val_") else "")
        return [problem(loc, f"{why}objective {text!r} is not accepted; accepted: "
                        f"{', '.join(f'{k} ({v})' for k, v in SWEEP_OBJECTIVES.items())}", "value_error", objective)]
    return [problem(loc, f"objective {text!r} is not accepted; accepted: {', '.join(SWEEP_OBJECTIVES)}",
                    "value_error", objective)]


def _cap_problems(body: dict[str, Any], settings: Settings) -> Problems:
    errors = []
    for field, cap in (("n_trials", settings.max_sweep_trials), ("parallel", settings.max_sweep_parallel)):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > cap:
            errors.append(problem(["body", field], f"{value} is above this server's cap; accepted: 1 to {cap}",
                                  "value_error", value))
    return errors


def _grid_problems(sampler: Any, params: list[Param], n_trials: Any) -> Problems:
    if sampler != "grid" or not params:
        return []
    continuous = [p.name for p in params if p.grid() is None]
    if continuous:
        return [problem(["body", "space", n], "a grid search needs a choice or a range with a step", "value_error")
                for n in continuous]
    size = math.prod(len(p.grid() or []) for p in params)
    if isinstance(n_trials, int) and n_trials > size:
        return [problem(["body", "n_trials"], f"the grid has {size} points; accepted: at most {size} trials",
                        "value_error", n_trials)]
    return []


def _named_dataset(body: dict[str, Any]) -> Any:
    base = body.get("base")
    return base.get("dataset") if isinstance(base, dict) else None


def parse_sweep(raw: bytes, settings: Settings, uploaded: Callable[[], Sequence[str]] | None = None) -> SweepRequest:
    from fer_models.data.catalog import dataset_names

    body = load_json(raw)
    if not isinstance(body, dict):
        raise SubmissionInvalid([problem(["body"], "expected a sweep object: {base, space, n_trials, ...}", "model_type")])
    errors: Problems = []
    base: dict[str, Any] | None = None
    try:
        base = one_spec(body.get("base"), ["body", "base"], settings,
                        with_uploaded(dataset_names(settings.data_dir), {_named_dataset(body)}, uploaded))
    except SubmissionInvalid as exc:
        errors += exc.errors
    model = base["model"] if base else (body.get("base") or {}).get("model") if isinstance(body.get("base"), dict) else None
    space_errors, params = _space_problems(body.get("space"), base, model, settings)
    errors += space_errors + _objective_problems(body.get("objective", "val_accuracy")) + _cap_problems(body, settings)
    errors += _grid_problems(body.get("sampler", "tpe"), params, body.get("n_trials"))
    checked = None
    try:  # the rest of the body's shape (space, base and objective are checked above)
        checked = SweepIn.model_validate({**body, "space": {"_": {"kind": "choice", "values": [0]}}, "base": {}})
    except ValidationError as exc:
        errors += [problem(["body", *e["loc"]], e["msg"], e["type"], e.get("input")) for e in exc.errors()
                   if e["loc"][:1] not in (("space",), ("base",))]
    if errors or checked is None or base is None:
        raise SubmissionInvalid(errors)
    pruner = checked.pruner if isinstance(checked.pruner, SweepPrunerIn) else SweepPrunerIn(kind=checked.pruner)
    return SweepRequest(body=checked, base=base, params=params, pruner=pruner.model_dump(),
                        direction=SWEEP_OBJECTIVES[checked.objective])


__all__ = ["SweepRequest", "parse_sweep"]
