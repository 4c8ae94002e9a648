"""URLs the API hands out: the MLflow UI page of a run."""

from __future__ import annotations

from ferbench.urls import is_http_url


def mlflow_url(tracking_uri: str | None, run_id: str | None) -> str | None:
    """The run's page in the MLflow UI, when the tracking server is reachable over http(s)."""
    if not run_id or not is_http_url(tracking_uri):
        return None
    return f"{tracking_uri.rstrip('/')}/#/runs/{run_id}"
