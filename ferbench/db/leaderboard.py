"""The leaderboard: result groups (the seeds of one spec on one split) and the ranking query over them.

A group's per-metric count, sum and mean are kept up to date in the finishing transaction
(`add_to_group`), so `GET /leaderboard` is one SELECT over the groups alone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session, aliased

from fer_models.evaluation.significance import mean_interval
from ferbench.db.hashing import without_seed
from ferbench.db.predictions import mark_differences
from ferbench.db.models import INTERVALS, LOWER_IS_BETTER, METRICS, PROTOCOLS, Experiment, Result, ResultGroup

RECIPE_LENGTH = ResultGroup.__table__.c.recipe.type.length or 64


# --- groups -----------------------------------------------------------------------------------

def group_member(experiment_id: str, seed: int, mlflow_run_id: str | None, metrics: Mapping[str, float | None]) -> dict[str, Any]:
    return {"experiment_id": experiment_id, "seed": seed, "mlflow_run_id": mlflow_run_id,
            "metrics": {m: metrics.get(m) for m in METRICS},
            "intervals": {k: metrics.get(k) for k in INTERVALS if metrics.get(k) is not None}}


def _group_columns(members: list[dict[str, Any]]) -> dict[str, Any]:
    """members (sorted by seed) plus the count, sum and mean per metric that the ranking query reads."""
    members = sorted(members, key=lambda m: (m["seed"], m["experiment_id"]))
    columns: dict[str, Any] = {"members": members, "n": len(members)}
    for m in METRICS:
        values = [v for member in members if (v := member["metrics"].get(m)) is not None]
        total = sum(values) if values else None
        columns |= {f"{m}_n": len(values), f"{m}_sum": total, f"{m}_mean": total / len(values) if values else None}
    return columns


def recipe_of(spec: Any) -> str | None:
    """The named recipe a stored spec was resolved from (its `recipe` field), None for a hand-written one."""
    recipe = spec.get("recipe") if isinstance(spec, Mapping) else None
    return str(recipe)[:RECIPE_LENGTH] if recipe else None


def _group_identity(model: str, family: str | None, dataset: str, spec: Any, protocol: str) -> dict[str, Any]:
    """What a group copies from its first result: the same for all of its seeds."""
    return {"model": model, "family": family, "dataset": dataset, "spec": without_seed(spec),
            "recipe": recipe_of(spec), "protocol": protocol}


def add_to_group(session: Session, row: Experiment, split: str, member: dict[str, Any], *,
                 protocol: str = "holdout") -> None:
    """Add one result to its (spec_key, split) group under a row lock (concurrent finishes all count).

    The split fingerprint fixes the protocol, so one group never mixes "official" and "holdout" results."""
    key = {"spec_key": row.spec_key, "split_fingerprint": split}
    fresh = {**key, **_group_identity(row.model, row.family, row.dataset, row.spec, protocol), "n": 0,
             "members": [], **{f"{m}_n": 0 for m in METRICS}}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(dialect_insert(ResultGroup).values(**fresh).on_conflict_do_nothing(
        index_elements=["spec_key", "split_fingerprint"]))
    # FOR UPDATE on PostgreSQL; SQLite already holds its database-wide write lock from the results insert.
    group_id, members = session.execute(
        select(ResultGroup.id, ResultGroup.members).filter_by(**key).with_for_update()).one()
    session.execute(update(ResultGroup.__table__).where(ResultGroup.__table__.c.id == group_id)
                    .values(**_group_columns([*members, member])))


def rebuild_result_groups(session: Session) -> int:
    """Recompute every (spec_key, split) group from the results table (repair, bulk loads)."""
    rows = session.execute(
        select(Result.experiment_id, Result.model, Result.family, Result.dataset, Result.split_fingerprint,
               Result.spec_key, Result.seed, Result.mlflow_run_id, Result.protocol,
               *(getattr(Result, m) for m in (*METRICS, *INTERVALS)), Experiment.spec)
        .join(Experiment, Experiment.id == Result.experiment_id)
    ).all()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        group = groups.setdefault((r.spec_key, r.split_fingerprint), {
            "spec_key": r.spec_key, "split_fingerprint": r.split_fingerprint, "members": [],
            **_group_identity(r.model, r.family, r.dataset, r.spec, r.protocol)})
        group["members"].append(group_member(r.experiment_id, r.seed, r.mlflow_run_id,
                                                {m: getattr(r, m) for m in (*METRICS, *INTERVALS)}))
    session.execute(delete(ResultGroup))
    if groups:
        session.execute(insert(ResultGroup), [{**g, **_group_columns(g["members"])} for g in groups.values()])
    session.commit()
    return len(groups)


# --- ranking ----------------------------------------------------------------------------------

class LeaderboardEntry(BaseModel):
    """One spec's standing: the API serves it as it is, plus its links (api.schemas.LeaderboardEntryOut)."""

    model_config = ConfigDict(protected_namespaces=())

    rank: int
    model: str
    family: str | None
    dataset: str
    split_fingerprint: str
    spec_key: str
    protocol: str = Field("holdout", description="official: the dataset's own test images; holdout: a carved "
                          "80/10/10 test set (one ranking never mixes the two)")
    recipe: str | None = Field(None, description="The named recipe the spec was resolved from; null for a "
                               "hand-written spec")
    metric: str
    mean: float = Field(description="Mean of the ranking metric over the spec's seeds")
    std: float | None = Field(description="Sample standard deviation over seeds; null with one seed")
    mean_ci: tuple[float, float] | None = Field(None, description="95% interval of the mean over seeds "
                                                "(t-distribution); null with one seed")
    ci: tuple[float, float] | None = Field(None, description="The best seed's 95% bootstrap interval of the ranking "
                                           "metric over the test images (accuracy and f1_macro; null for others "
                                           "and for results logged before intervals were kept)")
    differs_from_top: bool | None = Field(None, description="Whether this row's best seed differs from the top "
                                          "row's at 5% (McNemar's exact test on the same test images); null for "
                                          "the top row, another split, or runs without stored predictions")
    n_seeds: int
    seeds: list[int]
    metrics: dict[str, float | None] = Field(description="Every metric's mean over seeds")
    experiment_id: str = Field(description="The best seed's experiment")
    experiment_ids: list[str]
    mlflow_run_id: str | None
    mlflow_run_ids: list[str | None]
    spec: dict[str, Any] = Field(default_factory=dict)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_and_std(values: list[float]) -> tuple[float | None, float | None]:
    mean = _mean(values)
    if mean is None or len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))  # sample std


FILTERS = ("dataset", "model", "family", "split_fingerprint", "recipe", "protocol")


def _default_protocol(metric: str, filters: tuple[str, ...]) -> Any:
    """"official" when a group matching the filters has official results for `metric`, else "holdout".

    An uncorrelated scalar subquery: the database evaluates it once, from ix_result_groups_protocol_dataset.
    """
    other = aliased(ResultGroup)
    official = (select(literal("official")).select_from(other)
                .where(other.protocol == "official", getattr(other, f"{metric}_mean").is_not(None),
                       *(getattr(other, name) == bindparam(name) for name in filters))
                .limit(1).scalar_subquery())
    return func.coalesce(official, "holdout")


@functools.lru_cache(maxsize=256)
def _board_query(metric: str, filters: tuple[str, ...], best_per_model: bool) -> Select[Any]:
    """The SELECT for one shape of request, its values left as bind parameters.

    Cached because building a SQLAlchemy select costs about as much as PostgreSQL takes to run this one
    (0.3 ms); statements are immutable, so sharing them between threads is safe. Without a `protocol`
    filter the protocol is the default one (_default_protocol): a ranking is always of one protocol.
    """
    mean = getattr(ResultGroup, f"{metric}_mean")
    seeds = getattr(ResultGroup, f"{metric}_n")
    conditions = [mean.is_not(None), *(getattr(ResultGroup, name) == bindparam(name) for name in filters)]
    if "protocol" not in filters:
        conditions.append(ResultGroup.protocol == _default_protocol(metric, filters))
    ascending = metric in LOWER_IS_BETTER
    order = (mean.asc() if ascending else mean.desc(), seeds.desc(), ResultGroup.spec_key)
    columns = (ResultGroup.model, ResultGroup.family, ResultGroup.dataset, ResultGroup.split_fingerprint,
               ResultGroup.spec_key, ResultGroup.protocol, ResultGroup.recipe, ResultGroup.spec, ResultGroup.members)
    if best_per_model:
        ranked = select(
            ResultGroup.id, mean.label("mean"), seeds.label("seeds"),
            func.row_number().over(
                partition_by=(ResultGroup.model, ResultGroup.dataset, ResultGroup.split_fingerprint), order_by=order,
            ).label("rn"),
        ).where(*conditions).subquery()
        query = (select(*columns).join(ranked, ranked.c.id == ResultGroup.id).where(ranked.c.rn == 1)
                 .order_by(ranked.c.mean.asc() if ascending else ranked.c.mean.desc(), ranked.c.seeds.desc(),
                           ResultGroup.spec_key))
    else:
        query = select(*columns).where(*conditions).order_by(*order)
    return query.limit(bindparam("limit"))


def leaderboard(
    session: Session,
    *,
    metric: str = "accuracy",
    dataset: str | None = None,
    model: str | None = None,
    family: str | None = None,
    split_fingerprint: str | None = None,
    recipe: str | None = None,
    protocol: str | None = None,
    limit: int = 20,
    best_per_model: bool = False,
) -> list[LeaderboardEntry]:
    """Specs ranked by the mean of `metric` over their seeds (ascending for cost metrics).

    Groups are (spec_key, split_fingerprint): numbers from different splits are never averaged together.
    One protocol per ranking: `protocol` ("official" or "holdout"), or without it "official" when a group
    matching the other filters has official results and "holdout" otherwise (entries say which).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; accepted: {', '.join(METRICS)}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; accepted: {', '.join(PROTOCOLS)}")
    given = {name: value for name, value in zip(FILTERS, (dataset, model, family, split_fingerprint, recipe, protocol))
             if value is not None}
    query = _board_query(metric, tuple(given), best_per_model)
    ascending = metric in LOWER_IS_BETTER
    entries = []
    # One statement over the groups alone: the hot path of GET /leaderboard.
    for row in session.execute(query, {**given, "limit": limit}).all():
        group = [m for m in row.members if m["metrics"].get(metric) is not None]
        if not group:  # a group edited by hand out of step with its means: leave it out, never a 500
            continue
        values = [m["metrics"][metric] for m in group]
        value, std = mean_and_std(values)
        best = (min if ascending else max)(group, key=lambda m: m["metrics"][metric])
        best_ci = best.get("intervals", {})
        # Only the seeds that reported the ranking metric count, for every metric.
        means = {name: _mean([v for m in group if (v := m["metrics"].get(name)) is not None]) for name in METRICS}
        entries.append(LeaderboardEntry(
            rank=len(entries) + 1, model=row.model, family=row.family, dataset=row.dataset,
            split_fingerprint=row.split_fingerprint, spec_key=row.spec_key, protocol=row.protocol,
            recipe=row.recipe, metric=metric, mean=value,  # type: ignore[arg-type]
            std=std, mean_ci=mean_interval(values),
            ci=((best_ci[f"{metric}_ci_low"], best_ci[f"{metric}_ci_high"]) if f"{metric}_ci_low" in best_ci else None),
            n_seeds=len(group), seeds=[m["seed"] for m in group], metrics=means,
            experiment_id=best["experiment_id"], experiment_ids=[m["experiment_id"] for m in group],
            mlflow_run_id=best["mlflow_run_id"], mlflow_run_ids=[m["mlflow_run_id"] for m in group],
            spec=dict(row.spec),
        ))
    mark_differences(session, entries)
    return entries
