"""URLs the API hands out: the MLflow UI page of a run."""

from __future__ import annotations


def mlflow_url(tracking_uri: str | None, run_id: str | None) -> str | None:
    """The run's page in the MLflow UI, when the tracking server is reachable over http(s)."""
    if not run_id or not tracking_uri or not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/runs/{run_id}"
