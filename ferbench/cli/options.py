"""Click options more than one command shares, and options derived from a pydantic model's fields.

`model_options(ExperimentSpec)` gives `ferbench train` one option per spec field, so a new field is
a new option without a CLI edit: its type, choices, range and default come from the field, its help
from the field's description.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

F = TypeVar("F", bound=Callable[..., Any])


def parse_hyperparameters(values: Sequence[str], option: str = "--hp") -> dict[str, Any]:
    """`NAME=VALUE` pairs as a dict; a VALUE that is JSON (0.3, true, "x") is decoded, any other stays text."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE (e.g. {option} dropout=0.3)", param_hint=option)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@dataclass(frozen=True)
class FieldOption:
    """The click option of one model field; `path` is where its value goes (("early_stopping", "patience"))."""

    path: tuple[str, ...]
    declarations: tuple[str, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "_".join(self.path)

    @property
    def pairs(self) -> bool:
        """Whether the field is a mapping, given as repeated NAME=VALUE."""
        return bool(self.attributes.get("multiple"))

    def decorate(self, command: F) -> F:
        return click.option(*self.declarations, self.name, **self.attributes)(command)


def model_options(model: type[BaseModel], *, names: Mapping[str, Sequence[str]] | None = None,
                  metavars: Mapping[str, str] | None = None) -> tuple[FieldOption, ...]:
    """One option per field of `model`, a nested model's fields prefixed by its name (--early-stopping-patience).

    `names` replaces the derived option names of a dotted field path ("learning_rate": ("--learning-rate",
    "--lr")); `metavars` sets the shown value of a path. Every option defaults to None, so a field not given
    keeps the model's own default.
    """
    return tuple(_options(model, (), names or {}, metavars or {}))


def with_options(options: Sequence[FieldOption]) -> Callable[[F], F]:
    """Decorate a click command with `options`, listed in `--help` in their order."""
    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option.decorate(command)
        return command

    return decorate


def model_data(options: Sequence[FieldOption], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values given on the command line, nested by field path, ready for `model.model_validate`."""
    data: dict[str, Any] = {}
    for option in options:
        value = values.get(option.name)
        if value is None or value == ():
            continue
        if option.pairs:
            value = parse_hyperparameters(value, option.declarations[0])
        *parents, leaf = option.path
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return data


def _options(model: type[BaseModel], prefix: tuple[str, ...], names: Mapping[str, Sequence[str]],
             metavars: Mapping[str, str]) -> list[FieldOption]:
    options: list[FieldOption] = []
    for field_name, info in model.model_fields.items():
        path = (*prefix, field_name)
        kind = _plain(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            options.extend(_options(kind, path, names, metavars))
            continue
        dotted = ".".join(path)
        flags = tuple(names.get(dotted, ("--" + "-".join(path).replace("_", "-"),)))
        attributes: dict[str, Any] = {"default": None, "help": _help(info, kind, prefix)}
        if info.is_required():
            attributes["required"] = True
        if dotted in metavars:
            attributes["metavar"] = metavars[dotted]
        if kind is bool:
            flags = tuple(f"{flag}/--no-{flag.removeprefix('--')}" for flag in flags)
        elif get_origin(kind) is Literal:
            attributes["type"] = click.Choice([str(choice) for choice in get_args(kind)])
        elif kind is dict or get_origin(kind) is dict:
            attributes["multiple"] = True
            attributes["default"] = ()
        elif kind in (int, float, str):
            attributes["type"] = kind
        else:
            raise TypeError(f"field {dotted} of {model.__name__} has a type the CLI cannot take: {info.annotation!r}")
        options.append(FieldOption(path, flags, attributes))
    return options


def _plain(annotation: Any) -> Any:
    """The type under Annotated[...] and `| None`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _plain(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(kinds) == 1:
            return _plain(kinds[0])
    return annotation


def _help(info: FieldInfo, kind: Any, prefix: tuple[str, ...]) -> str:
    text = info.description or ""
    notes = []
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if kind is int and "minimum" in extra and "maximum" in extra:
        notes.append(f"{extra['minimum']}-{extra['maximum']}")
    if info.default is not None and not info.is_required() and info.default_factory is None:
        shown = ("on" if info.default else "off") if isinstance(info.default, bool) else info.default
        notes.append(f"default {shown}")
    if prefix:  # a nested model's option: giving it turns that model on (e.g. early stopping)
        notes.append(f"turns {' '.join(prefix).replace('_', ' ')} on")
    if kind is dict or get_origin(kind) is dict:
        notes.append("repeatable")
    return f"{text} ({', '.join(notes)})." if notes else f"{text}."
