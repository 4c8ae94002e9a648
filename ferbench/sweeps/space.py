"""A sweep's search space: which spec fields and model hyperparameters it varies, and how.

TF-free and Optuna-free at import: the API checks spaces with it; `suggest` takes any object with
Optuna's `suggest_*` methods. Spec fields are named as in ExperimentSpec (`learning_rate`), model
hyperparameters with the `hp.` prefix (`hp.filters`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

HP_PREFIX = "hp."
ParamKind = Literal["choice", "int", "float", "log"]
PARAM_KINDS: tuple[ParamKind, ...] = ("choice", "int", "float", "log")
# Fields a sweep never varies: they say what is being tuned and on what data (one sweep, one model and split),
# or are not scalars. `seed` is the sweep's `seeds` per trial.
FIXED_FIELDS = ("recipe", "model", "dataset", "seed", "split_seed", "hyperparameters", "early_stopping", "weights")
Choice = bool | int | float | str | None


@dataclass(frozen=True)
class Param:
    """One searched parameter: `choice` of `values`, or an `int`, `float` or `log` (float) range with optional step."""

    name: str
    kind: ParamKind
    low: float | None = None
    high: float | None = None
    step: float | None = None
    values: tuple[Choice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "name" and v not in (None, ())}
        if self.kind == "choice":
            out["values"] = list(self.values)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Param:
        return cls(name=name, kind=data["kind"], low=data.get("low"), high=data.get("high"), step=data.get("step"),
                   values=tuple(data.get("values") or ()))

    def candidates(self) -> list[Any]:
        """The values that must each give a valid spec: every choice, or both ends of the range."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return [int(self.low), int(self.high)]  # type: ignore[arg-type]
        return [self.low, self.high]

    def grid(self) -> list[Any] | None:
        """Every value a grid search visits; None when the parameter is continuous (no step)."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "log" or (self.kind == "float" and self.step is None):
            return None
        step = self.step or 1
        count = int((self.high - self.low) // step) + 1  # type: ignore[operator]
        values = [self.low + i * step for i in range(count)]  # type: ignore[operator]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]


def space_from_dict(data: Mapping[str, Mapping[str, Any]]) -> list[Param]:
    return [Param.from_dict(name, spec) for name, spec in data.items()]


def space_to_dict(params: list[Param]) -> dict[str, dict[str, Any]]:
    return {p.name: p.to_dict() for p in params}


def suggest(trial: Any, params: list[Param]) -> dict[str, Any]:
    """Ask `trial` (an optuna.Trial) for one value of each parameter."""
    values: dict[str, Any] = {}
    for p in params:
        if p.kind == "choice":
            values[p.name] = trial.suggest_categorical(p.name, list(p.values))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1))  # type: ignore[arg-type]
        else:
            values[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high),  # type: ignore[arg-type]
                                                 step=p.step, log=p.kind == "log")
    return values


def apply(base: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The base spec with a trial's values: `hp.x` into the hyperparameters, anything else a spec field."""
    spec = copy.deepcopy(dict(base))
    for name, value in values.items():
        if name.startswith(HP_PREFIX):
            spec.setdefault("hyperparameters", {})[name.removeprefix(HP_PREFIX)] = value
        else:
            spec[name] = value
    return spec
