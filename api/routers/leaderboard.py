"""GET /leaderboard: ranked from the indexed leaderboard groups (never MLflow's search_runs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import AppResources, require_read_key, resources
from api.schemas import LeaderboardOut
from api.views import leaderboard_entry_out
from fer_models.vocabulary import LOWER_IS_BETTER, Metric, Protocol
from ferbench.db.leaderboard import leaderboard as leaderboard_query

router = APIRouter(tags=["leaderboard"], dependencies=[Depends(require_read_key)])

Name = Annotated[str | None, Query(max_length=128)]


@router.get("/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    res: AppResources = Depends(resources),
    metric: Metric = "accuracy",
    dataset: Name = None,
    model: Name = None,
    family: Name = None,
    split_fingerprint: Name = None,
    recipe: Annotated[str | None, Query(max_length=64, description="Only specs resolved from this named recipe")] = None,
    protocol: Annotated[Protocol | None, Query(description=(
        "`official` (the dataset's own test images, e.g. FER2013's PublicTest+PrivateTest) or `holdout` (a test "
        "set carved 80/10/10). Default: official when the other filters match official results, else holdout"
    ))] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    best_per_model: bool = False,
) -> Response:
    """Specs ranked by the mean of `metric` over their seeds (cost metrics ascending, others descending).

    Results from different split fingerprints are never averaged together, and one ranking is always of one
    evaluation protocol: `official` results (the dataset's own test set) and `holdout` results (a test set
    carved 80/10/10) are never ranked together. Without `protocol` the ranking is the official one when any
    result matching the other filters used the official protocol, else the holdout one; the body's
    `protocol` says which, and every entry carries its `protocol` and `recipe`.
    """
    # One SELECT in autocommit mode, and the session opened here rather than by a dependency (which
    # FastAPI would enter and leave on its threadpool): each saved hop is visible in the latency.
    with res.autocommit_session_factory()() as session:
        entries = leaderboard_query(session, metric=metric, dataset=dataset, model=model, family=family,
                                   split_fingerprint=split_fingerprint, recipe=recipe, protocol=protocol,
                                   limit=limit, best_per_model=best_per_model)
    uri = res.settings.mlflow_tracking_uri
    # Without official results matching the filters, the default ranking is the (maybe empty) holdout one.
    ranked = protocol or (entries[0].protocol if entries else "holdout")
    body = LeaderboardOut(metric=metric, order="asc" if metric in LOWER_IS_BETTER else "desc", dataset=dataset,
                          protocol=ranked, recipe=recipe, entries=[leaderboard_entry_out(e, uri) for e in entries])
    # Already a validated LeaderboardOut: returning it would make FastAPI dump, re-validate and dump it again.
    return Response(body.model_dump_json(), media_type="application/json")
