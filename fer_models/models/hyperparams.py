"""One hyperparameter of a model (TF-free): its type, default, accepted values and JSON schema."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from fer_models.errors import ModelError

_JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter: its type, default and accepted values (bounds inclusive)."""

    name: str
    type: str  # "int" | "float" | "bool" | "str"
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    # Extra semantic check for structured strings; returns a problem description or None.
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    check_hint: str = ""

    def accepted(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.check_hint:
            return self.check_hint
        if self.type in ("int", "float"):
            low = "-inf" if self.minimum is None else f"{self.minimum:g}"
            high = "inf" if self.maximum is None else f"{self.maximum:g}"
            return f"{'an integer' if self.type == 'int' else 'a number'} in [{low}, {high}]"
        return {"bool": "true or false", "str": "a string"}[self.type]

    def validate(self, model: str, value: Any) -> Any:
        def fail(why: str) -> ModelError:
            return ModelError(
                f"model {model!r}: hyperparameter {self.name}={value!r} {why}; accepted: {self.accepted()}"
            )

        if self.type == "bool":
            if not isinstance(value, bool):
                raise fail("is not a boolean")
        elif self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise fail("is not an integer")
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise fail("is not a number")
            value = float(value)
            if not math.isfinite(value):
                raise fail("is not finite")
        elif self.type == "str":
            if not isinstance(value, str):
                raise fail("is not a string")
        if self.choices is not None and value not in self.choices:
            raise fail("is not allowed")
        if self.minimum is not None and value < self.minimum:
            raise fail(f"is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise fail(f"is above the maximum {self.maximum:g}")
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise fail(f"is malformed ({problem})")
        return value

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": _JSON_TYPES[self.type], "default": self.default, "description": self.description}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices is not None:
            out["enum"] = list(self.choices)
        return out
