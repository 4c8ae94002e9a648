"""The write-up's table beside ours, from finished experiments: rows, title and Markdown (TF-free).

Each row is one write-up model: the figures the write-up reports (`-` where it gives none) and ours as
mean ± sample std over the seeds that succeeded. Whether a row is quick is read from the specs that ran
(the fields the quick rule changes), so a quick row can never pass for a full one; the title says quick
when any row is, and a report mixing the two says so and labels every row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ferbench.db.leaderboard import mean_and_std
from ferbench.reports.writeup_plan import QUICK_RULE, writeup_recipes

Scale = Literal["full", "quick", "mixed"]
QUICK_FIELDS = ("epochs", "input_size", "time_budget_minutes")
_IGNORED = ("seed", "dataset", "split_seed", "recipe")  # what a run may set without leaving its recipe


@dataclass(frozen=True)
class Member:
    """One experiment of the report, as the database holds it."""

    experiment_id: str
    recipe: str
    status: str
    seed: int
    spec: Mapping[str, Any]
    dataset: str
    metrics: Mapping[str, float | None] | None = None
    protocol: str | None = None
    error: str | None = None
    stopped_reason: str | None = None  # e.g. time_budget, early_stopping


@dataclass(frozen=True)
class Stat:
    mean: float | None
    std: float | None  # sample std; None with fewer than two values

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        return cls(*mean_and_std([float(v) for v in values if v is not None and math.isfinite(float(v))]))


@dataclass(frozen=True)
class WriteupRow:
    model: str
    recipe: str
    reported_accuracy: float | None
    reported_f1_macro: float | None
    reported_on: str
    accuracy: Stat
    f1_macro: Stat
    train_seconds: Stat
    params: float | None
    seeds: int  # that succeeded
    failed: int
    quick: bool
    deviations: list[str]  # what ran differently from the recipe, in words
    protocol: str
    dataset: str
    experiment_ids: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WriteupReport:
    title: str
    scale: Scale
    dataset: str
    seeds: int
    rows: list[WriteupRow]

    @property
    def quick(self) -> bool:
        return self.scale != "full"

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "scale": self.scale, "quick": self.quick, "dataset": self.dataset,
                "seeds": self.seeds, "rows": [asdict(r) for r in self.rows]}


def deviations(spec: Mapping[str, Any], recipe_spec: Mapping[str, Any]) -> tuple[list[str], bool]:
    """What `spec` changes of its recipe's resolved settings, in words, and whether any of it is quick scaling."""
    words, quick = [], False
    for key in sorted(set(spec) | set(recipe_spec)):
        ours, theirs = spec.get(key), recipe_spec.get(key)
        if key in _IGNORED or ours == theirs:
            continue
        quick = quick or key in QUICK_FIELDS
        if key == "input_size":
            words.append(f"{ours} px (recipe {theirs})")
        elif key == "time_budget_minutes":
            words.append(f"stopped after {ours:g} min of training" if ours else "no time limit")
        elif key == "weights" and ours == "none":
            words.append(f"from scratch (recipe: {theirs} weights)")
        elif key == "hyperparameters" and isinstance(ours, Mapping) and isinstance(theirs, Mapping):
            words += [f"{name} {_short(ours.get(name))} (recipe {_short(theirs.get(name))})"
                      for name in sorted(set(ours) | set(theirs)) if ours.get(name) != theirs.get(name)]
        else:
            words.append(f"{key} {_short(ours)} (recipe {_short(theirs)})")
    return words, quick


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def build_report(members: Sequence[Member], *, dataset: str) -> WriteupReport:
    """Rows in the write-up's order, one per recipe among `members`."""
    from fer_models.training.recipes import resolved_settings

    by_recipe: dict[str, list[Member]] = {}
    for member in members:
        by_recipe.setdefault(member.recipe, []).append(member)
    rows = []
    for recipe in writeup_recipes():
        group = sorted(by_recipe.get(recipe.name, []), key=lambda m: m.seed)
        if group:
            rows.append(_row(recipe.name, recipe.model, recipe.reported, group, resolved_settings(recipe.name)))
    quick = {row.quick for row in rows}
    scale: Scale = "mixed" if len(quick) > 1 else ("quick" if True in quick else "full")
    seeds = max((len(r.experiment_ids) for r in rows), default=0)
    return WriteupReport(writeup_title(scale, dataset, seeds), scale, dataset, seeds, rows)


def _row(recipe: str, model: str, reported: Any, group: list[Member], recipe_spec: Mapping[str, Any]) -> WriteupRow:
    done = [m for m in group if m.status == "succeeded" and m.metrics]
    words, quick = deviations(group[0].spec, recipe_spec)
    notes = [f"seed {m.seed} {m.status}" + (f": {m.error.splitlines()[0][:160]}" if m.error else "")
             for m in group if m not in done]
    notes += [f"seed {m.seed} stopped by its {m.stopped_reason.replace('_', ' ')}" for m in done
              if m.stopped_reason == "time_budget"]
    metric = lambda name: Stat.of((m.metrics or {}).get(name) for m in done)  # noqa: E731
    protocols = sorted({m.protocol for m in done if m.protocol}) or ["-"]
    return WriteupRow(
        model=model, recipe=recipe,
        reported_accuracy=reported.accuracy if reported else None,
        reported_f1_macro=reported.f1_macro if reported else None,
        reported_on=reported.on if reported else "",
        accuracy=metric("accuracy"), f1_macro=metric("f1_macro"), train_seconds=metric("train_seconds"),
        params=metric("params").mean, seeds=len(done), failed=len(group) - len(done), quick=quick,
        deviations=words, protocol=",".join(protocols), dataset=group[0].dataset,
        experiment_ids=[m.experiment_id for m in group], notes=notes)


def writeup_title(scale: Scale, dataset: str, seeds: int) -> str:
    base = f"The write-up's results beside FER Bench's on {dataset} ({seeds} seed{'s' if seeds != 1 else ''} per model)"
    if scale == "quick":
        return f"QUICK run, scaled down from the write-up's recipes ({QUICK_RULE}): {base}"
    if scale == "mixed":
        return (f"MIXED quick and full runs (quick rows scaled down: {QUICK_RULE}; see the 'run' column): {base}")
    return f"Full recipes: {base}"


# -- formatting ------------------------------------------------------------------------------------
COLUMNS = ("model", "write-up accuracy", "write-up macro-F1", "our accuracy", "our macro-F1", "training time",
           "parameters", "seeds", "run", "recipe", "protocol", "dataset", "differs from the recipe")


def _shown(value: float | None, scale: float, digits: int, unit: str) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}{unit}"


def _shown_stat(stat: Stat, scale: float, digits: int, unit: str) -> str:
    if stat.mean is None or stat.std is None:
        return _shown(stat.mean, scale, digits, unit)
    return f"{scale * stat.mean:.{digits}f} ± {scale * stat.std:.{digits}f}{unit}"


def percent(value: float | None) -> str:
    return _shown(value, 100, 1, "%")


def percent_stat(stat: Stat) -> str:
    return _shown_stat(stat, 100, 1, "%")


def fraction(value: float | None) -> str:
    return _shown(value, 1, 3, "")


def fraction_stat(stat: Stat) -> str:
    return _shown_stat(stat, 1, 3, "")


def duration(stat: Stat) -> str:
    if stat.mean is None:
        return "-"
    seconds = stat.mean
    text = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    return text if stat.std is None else f"{text} ± {stat.std:.0f} s"


def count(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else (f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}")


def cells(row: WriteupRow) -> list[str]:
    seeds = f"{row.seeds}" + (f" (+{row.failed} failed)" if row.failed else "")
    differs = "; ".join([*row.deviations, *row.notes]) or "-"
    return [row.model, percent(row.reported_accuracy), fraction(row.reported_f1_macro), percent_stat(row.accuracy),
            fraction_stat(row.f1_macro), duration(row.train_seconds), count(row.params), seeds,
            "quick" if row.quick else "full", row.recipe, row.protocol, row.dataset, differs]


def render_markdown(report: WriteupReport) -> str:
    lines = [f"## {report.title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |" for row in report.rows]
    sources = sorted({row.reported_on for row in report.rows if row.reported_on})
    lines += ["", "Ours: mean ± sample standard deviation over the seeds that succeeded (no ± with one seed)."]
    lines += [f"The write-up's figures are on {on}; '-' where it gives none." for on in sources]
    if report.quick:
        lines.append("Quick rows are NOT the write-up's settings: compare them only with other quick rows.")
    return "\n".join(lines) + "\n"
