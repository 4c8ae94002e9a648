"""The web pages: server-rendered shells under / and /ui/..., filled by plain JavaScript from the JSON API.

The shells hold no data, so they need no key: every number on a page comes from the same endpoints
any client uses (with the browser's X-API-Key when the server asks for one), which keeps one set
of rules for reading and writing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.routers.experiments import ExperimentId
from api.routers.sweeps import SweepId
from ferbench.db.models import LOWER_IS_BETTER, METRICS, PROTOCOLS, STATUSES

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, title: str, nav: str, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, {
        "title": title, "nav": nav, "metrics": METRICS, "lower_is_better": sorted(LOWER_IS_BETTER),
        "statuses": STATUSES, "protocols": PROTOCOLS, **context})


def _shell(template: str, title: str, nav: str) -> Callable[[Request], HTMLResponse]:
    def page(request: Request) -> HTMLResponse:
        return _page(request, template, title, nav)
    return page


# path -> (template, title, the nav entry it highlights)
SHELLS = {
    "/": ("leaderboard.html", "Leaderboard", "leaderboard"),
    "/ui/leaderboard": ("leaderboard.html", "Leaderboard", "leaderboard"),
    "/ui/experiments": ("experiments.html", "Experiments", "experiments"),
    "/ui/submit": ("submit.html", "Submit", "submit"),
    "/ui/compare": ("compare.html", "Compare", "compare"),
    "/ui/sweeps": ("sweeps.html", "Sweeps", "sweeps"),
}
for _path, (_template, _title, _nav) in SHELLS.items():
    router.add_api_route(_path, _shell(_template, _title, _nav), methods=["GET"], response_class=HTMLResponse)


@router.get("/ui/experiments/{experiment_id}", response_class=HTMLResponse)
def experiment_page(request: Request, experiment_id: ExperimentId) -> HTMLResponse:
    return _page(request, "experiment.html", "Experiment", "experiments", experiment_id=experiment_id)


@router.get("/ui/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(request: Request, sweep_id: SweepId) -> HTMLResponse:
    return _page(request, "sweep.html", "Sweep", "sweeps", sweep_id=sweep_id)
