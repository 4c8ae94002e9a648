"""Which MLflow tracking URIs are accepted: a tracking server or a database store, never the file store."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from fer_models.errors import FerBenchError

_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


class TrackingError(FerBenchError):
    """MLflow tracking is misconfigured or unreachable."""


def validate_tracking_uri(uri: str) -> str:
    """Return `uri` when it names an http(s) server or a database store; raise TrackingError otherwise."""
    scheme = urlparse(uri).scheme.lower().split("+")[0]
    if scheme in ("http", "https") or scheme in _DB_SCHEMES:
        return uri
    raise TrackingError(
        f"MLflow tracking URI {uri!r} is not accepted: MLflow's file store is deprecated. "
        "Use an http(s):// tracking server or a database store such as sqlite:///path/to/mlflow.db"
    )


def default_tracking_uri(home: Path) -> str:
    """The embedded default: a sqlite store under the state folder."""
    return f"sqlite:///{(Path(home).resolve() / 'mlflow.db')}"


def local_artifact_root(uri: str) -> str | None:
    """Artifacts of a sqlite store live beside its file (mlartifacts/); a server decides for itself."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db_path = Path(uri[len("sqlite:///"):])
    return (db_path.parent / "mlartifacts").resolve().as_uri()
