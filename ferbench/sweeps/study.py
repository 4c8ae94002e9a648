"""A sweep's Optuna study, in Optuna's relational storage on the service's own database.

The tables are made by migration 0009; processes open the storage with table creation and Optuna's
version check off (that check reads `alembic_version`, which here holds our revision). Nothing is kept
in memory between calls: each one loads the study, so the API and every worker see one study.

A sampler is built per call, seeded with the sweep's seed plus the trial's number: one seeded sampler
rebuilt for every ask would otherwise draw the same first values every time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ferbench.db.session import normalise_url
from ferbench.sweeps.space import Param, space_from_dict, suggest

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
# Trial end states as sweep_trials.state has them; Optuna has no "cancelled" (FAIL stands in).
TRIAL_STATES = ("running", "complete", "pruned", "failed", "cancelled")


@dataclass(frozen=True)
class StudyConfig:
    """What building the study's sampler and pruner needs (from a `sweeps` row)."""

    study_name: str
    sampler: str
    sampler_seed: int
    pruner: Mapping[str, Any]
    direction: str
    n_trials: int
    parallel: int
    params: list[Param] = field(default_factory=list)
    max_epochs: int = 1  # the most epochs a trial can run (hyperband's max resource)

    @classmethod
    def of(cls, sweep: Any) -> StudyConfig:
        params = space_from_dict(sweep.space)
        epochs = next((int(p.high) for p in params if p.name == "epochs" and p.high is not None),  # type: ignore[arg-type]
                      int(sweep.base_spec.get("epochs", 1)))
        return cls(study_name=sweep.study_name, sampler=sweep.sampler, sampler_seed=int(sweep.sampler_seed),
                   pruner=dict(sweep.pruner), direction=sweep.direction, n_trials=int(sweep.n_trials),
                   parallel=int(sweep.parallel), params=params, max_epochs=epochs)


@lru_cache(maxsize=8)
def _storage(url: str, pid: int) -> Any:
    from optuna.storages import RDBStorage

    url = normalise_url(url)
    kwargs: dict[str, Any] = ({"connect_args": {"timeout": 30}} if url.startswith("sqlite")
                              else {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 4})
    return RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=True, skip_table_creation=True)


def storage(url: str) -> Any:
    """One storage (and connection pool) per process: a forked worker child must not reuse its parent's."""
    return _storage(url, os.getpid())


def startup_trials(n_trials: int) -> int:
    """Random trials before TPE or CMA-ES model the space: a third of the budget, from 2 to 10."""
    return max(2, min(10, n_trials // 3))


def make_sampler(config: StudyConfig, number: int) -> Any:
    import optuna

    seed = config.sampler_seed + number
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "grid":
        grid = {p.name: p.grid() for p in config.params}
        return optuna.samplers.GridSampler(grid, seed=seed)  # type: ignore[arg-type]
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup_trials(config.n_trials),
                                            warn_independent_sampling=False)
    # constant_liar: trials still running count as bad guesses, so parallel trials do not all pick one point.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(config.n_trials),
                                      constant_liar=config.parallel > 1)


def make_pruner(config: StudyConfig) -> Any:
    import optuna

    kind = config.pruner.get("kind", "median")
    if kind == "none":
        return optuna.pruners.NopPruner()
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=int(config.pruner.get("min_epochs", 1)),
                                              max_resource=max(config.max_epochs, 1),
                                              reduction_factor=int(config.pruner.get("reduction_factor", 3)))
    return optuna.pruners.MedianPruner(n_startup_trials=int(config.pruner.get("startup_trials", 2)),
                                       n_warmup_steps=int(config.pruner.get("warmup_epochs", 0)))


def load(url: str, config: StudyConfig, number: int = 0) -> Any:
    import optuna

    return optuna.load_study(study_name=config.study_name, storage=storage(url),
                             sampler=make_sampler(config, number), pruner=make_pruner(config))


def create(url: str, config: StudyConfig) -> None:
    import optuna

    optuna.create_study(study_name=config.study_name, storage=storage(url), direction=config.direction,
                        sampler=make_sampler(config, 0), pruner=make_pruner(config))


@dataclass(frozen=True)
class Asked:
    optuna_trial_id: int
    values: dict[str, Any]


def ask(url: str, config: StudyConfig, number: int) -> Asked:
    """A new Optuna trial and its values for every parameter of the space."""
    study = load(url, config, number)
    trial = study.ask()
    return Asked(optuna_trial_id=trial._trial_id, values=suggest(trial, config.params))


def tell(url: str, config: StudyConfig, optuna_trial_id: int, state: str, value: float | None) -> None:
    """End the Optuna trial; a trial already ended (another process told it first) is left as it is."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study = load(url, config)
    number = storage(url).get_trial_number_from_id(optuna_trial_id)
    try:
        if state == "complete" and value is not None:
            study.tell(number, value, skip_if_finished=True)
        elif state == "pruned":
            study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        else:  # failed, cancelled, or complete without a value
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    except UpdateFinishedTrialError:
        pass  # skip_if_finished checks before it writes: a concurrent tell can land in between


@dataclass
class TrialReporter:
    """Reports each epoch's objective to the trial and asks the pruner; `pruned` once it said stop.

    Errors are logged, never raised: a hiccup of the study must not kill a training run.
    """

    url: str
    config: StudyConfig
    optuna_trial_id: int
    objective: str
    pruned_at: int | None = None
    _trial: Any = None

    @property
    def pruned(self) -> bool:
        return self.pruned_at is not None

    def report(self, epoch: int, metrics: Mapping[str, Any]) -> bool:
        value = metrics.get(self.objective)
        if value is None or self.pruned:
            return self.pruned
        try:
            if self._trial is None:
                from optuna.trial import Trial

                self._trial = Trial(load(self.url, self.config), self.optuna_trial_id)
            self._trial.report(float(value), epoch)
            if self._trial.should_prune():
                self.pruned_at = epoch
        except Exception:  # noqa: BLE001 - see the class docstring
            log.warning("could not report epoch %d of optuna trial %d", epoch, self.optuna_trial_id, exc_info=True)
        return self.pruned
