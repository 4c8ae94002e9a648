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


def sqlite_store_uri(folder: Path) -> str:
    """A sqlite store file in `folder` (its artifacts beside it: `local_artifact_root`)."""
    return f"sqlite:///{(Path(folder).resolve() / 'mlflow.db')}"


def default_store_dir(home: Path) -> Path:
    """The embedded default store's folder under FERBENCH_HOME: every command and `ferbench up`'s server use it."""
    return Path(home).resolve() / "mlflow"


def default_tracking_uri(home: Path) -> str:
    """The embedded default: the sqlite store in `default_store_dir(home)`."""
    return sqlite_store_uri(default_store_dir(home))


def local_artifact_dir(uri: str) -> Path | None:
    """Artifacts of a sqlite store live beside its file (mlartifacts/); a server decides for itself."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    return (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").resolve()


def local_artifact_root(uri: str) -> str | None:
    """`local_artifact_dir` as the file URI MLflow takes for an artifact location."""
    folder = local_artifact_dir(uri)
    return folder.as_uri() if folder else None
