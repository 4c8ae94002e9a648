"""GET /leaderboard: ranked from the indexed leaderboard groups (never MLflow's search_runs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import AppResources, require_read_key, resources
from api.schemas import LeaderboardOut
from api.views import leaderboard_entry_out
from fer_models.vocabulary import LOWER_IS_BETTER, Metric
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
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    best_per_model: bool = False,
) -> Response:
    """Specs ranked by the mean of `metric` over their seeds (cost metrics ascending, others descending).

    Results from different split fingerprints are never averaged together.
    """
    # One SELECT in autocommit mode, and the session opened here rather than by a dependency (which
    # FastAPI would enter and leave on its threadpool): each saved hop is visible in the latency.
    with res.autocommit_session_factory()() as session:
        entries = leaderboard_query(session, metric=metric, dataset=dataset, model=model, family=family,
                                   split_fingerprint=split_fingerprint, limit=limit, best_per_model=best_per_model)
    uri = res.settings.mlflow_tracking_uri
    body = LeaderboardOut(metric=metric, order="asc" if metric in LOWER_IS_BETTER else "desc", dataset=dataset,
                          entries=[leaderboard_entry_out(e, uri) for e in entries])
    # Already a validated LeaderboardOut: returning it would make FastAPI dump, re-validate and dump it again.
    return Response(body.model_dump_json(), media_type="application/json")
