"""What `ferbench reproduce writeup` submits: one POST /experiments body per write-up recipe (TF-free).

The quick rule (`--quick`), chosen so that the 13 write-up models, one seed each (the quick default),
fit in about an hour on 2 CPU cores on FER2013:

- epochs: the recipe's divided by 10, rounded, at least 1 (50 -> 5, 30 -> 3), and the epochs of an
  unfreeze schedule with them (ResNet50's "5:3,10:9" -> "1:3,2:9"), so a quick run still fine-tunes;
- input size: models on an ImageNet base train at max(48, the model's minimum) pixels, FER2013's
  native size, instead of their default (224 for VGG19 and ResNet50);
- time budget: every run stops gracefully after 45 minutes divided by the number of runs (models x
  seeds, at least 1 minute each): three quarters of the hour train, the rest builds, evaluates and starts.

From scratch (`--weights none`), a schedule that keeps the base frozen at first has nothing to protect:
the whole base trains from the first epoch at the head's rate (`unfreeze_schedule` "0:all",
`finetune_lr_factor` 1), instead of a random base frozen for the first epochs.

Every deviation from a recipe (quick or not, e.g. `--weights none`) travels in the spec itself, so the
table derives each row's label from what actually ran, never from what the client claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fer_models.errors import SpecError
from fer_models.models.schedule import ALL, parse_unfreeze_schedule
from fer_models.training.recipes import Recipe, list_recipes, resolved_settings

WRITEUP_TAG = "writeup"
QUICK_EPOCH_DIVISOR = 10
QUICK_IMAGENET_SIZE = 48
QUICK_TRAINING_MINUTES = 45.0  # of the hour the whole quick table should take
QUICK_MIN_RUN_MINUTES = 1.0
QUICK_RULE = (f"epochs / {QUICK_EPOCH_DIVISOR} (at least 1; unfreeze schedules with them), "
              f"ImageNet-based models at {QUICK_IMAGENET_SIZE} px, "
              f"each run stopped after {QUICK_TRAINING_MINUTES:g} min / runs of training")
MAX_SEEDS = 10
QUICK_SEEDS = 1  # three seeds of every model in the hour would each train too briefly to leave chance
FULL_SEEDS = 3
FROM_SCRATCH_SCHEDULE = {"unfreeze_schedule": f"0:{ALL}", "finetune_lr_factor": 1.0}
Weights = Literal["recipe", "none"]


@dataclass(frozen=True)
class PlannedRun:
    """One model of the table: its recipe and the POST /experiments body (all its seeds)."""

    recipe: Recipe
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return self.recipe.model


def writeup_recipes() -> list[Recipe]:
    """The write-up's recipes, in the write-up's order."""
    return [r for r in list_recipes() if WRITEUP_TAG in r.tags]


def choose_recipes(models: Sequence[str] | None) -> list[Recipe]:
    """The write-up recipes of `models` (all when None), in the write-up's order; an unknown name names them all."""
    recipes = writeup_recipes()
    if not models:
        return recipes
    by_model = {r.model: r for r in recipes}
    unknown = [m for m in models if m not in by_model]
    if unknown:
        raise SpecError(f"not a write-up model: {', '.join(unknown)}; the write-up's models: {', '.join(by_model)}")
    wanted = set(models)
    return [r for r in recipes if r.model in wanted]


def quick_epochs(epochs: int) -> int:
    return max(1, round(epochs / QUICK_EPOCH_DIVISOR))


def quick_input_size(min_input_size: int, imagenet: bool) -> int | None:
    """The quick run's input size, or None to keep the model's default."""
    return max(QUICK_IMAGENET_SIZE, min_input_size) if imagenet else None


def quick_schedule(text: str) -> str:
    """An unfreeze schedule with its epochs divided like the run's: each at least 1 (0 stays 0), still increasing."""
    scaled: list[str] = []
    last = -1
    for epoch, count in parse_unfreeze_schedule(text):
        epoch = max(last + 1, 0 if epoch == 0 else quick_epochs(epoch))
        scaled.append(f"{epoch}:{count}")
        last = epoch
    return ",".join(scaled)


def _schedule_override(schedule: str | None, *, quick: bool, scratch: bool) -> dict[str, Any] | None:
    """The hyperparameters a planned run sets on the recipe's unfreeze schedule, if it changes it."""
    if schedule is None:
        return None
    if scratch:
        return dict(FROM_SCRATCH_SCHEDULE)
    if quick and (scaled := quick_schedule(schedule)) != schedule:
        return {"unfreeze_schedule": scaled}
    return None


def quick_budget_minutes(runs: int) -> float:
    return round(max(QUICK_MIN_RUN_MINUTES, QUICK_TRAINING_MINUTES / max(runs, 1)), 2)


def plan_runs(recipes: Sequence[Recipe], *, dataset: str, seeds: int, quick: bool, epochs: int | None = None,
              weights: Weights = "recipe") -> list[PlannedRun]:
    """One body per recipe: `{"recipe", "dataset", "repeats"}` and only the settings that differ from it.

    `epochs` (a test's or a hurried user's) replaces the recipe's and the quick rule's epochs.
    """
    from fer_models.models.registry import get_model_info

    if not 1 <= seeds <= MAX_SEEDS:
        raise SpecError(f"seeds must be an integer from 1 to {MAX_SEEDS}, got {seeds}")
    budget = quick_budget_minutes(len(recipes) * seeds)
    planned = []
    for recipe in recipes:
        info = get_model_info(recipe.model)
        body: dict[str, Any] = {"recipe": recipe.name, "dataset": dataset}
        scratch = weights == "none" and recipe.settings.get("weights", "none") != "none"
        if seeds > 1:
            body["repeats"] = seeds
        if quick:
            body["epochs"] = quick_epochs(int(recipe.settings.get("epochs", 10)))
            size = quick_input_size(info.min_input_size, info.imagenet_weights)
            if size is not None:
                body["input_size"] = size
            body["time_budget_minutes"] = budget
        if epochs is not None:
            body["epochs"] = epochs
        if scratch:
            body["weights"] = "none"
        schedule = resolved_settings(recipe.name)["hyperparameters"].get("unfreeze_schedule")
        if hyperparameters := _schedule_override(schedule, quick=quick, scratch=scratch):
            body["hyperparameters"] = hyperparameters
        planned.append(PlannedRun(recipe, body))
    return planned
