"""MLflow's model registry through `MlflowClient`: register a run's logged model as a new version,
move an alias onto it, list what is registered, and resolve a reference (alias, version or
experiment id) to one version. TF-free: the API lists and promotes through this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fer_models.errors import FerBenchError
from fer_models.tracking.retry import with_retries
from fer_models.tracking.uri import validate_tracking_uri

DEFAULT_MODEL_NAME = "fer-emotion"
DEFAULT_ALIAS = "champion"
EXPERIMENT_TAG = "experiment_id"  # the version tag that links back to the FER Bench experiment


class UnknownModelRef(FerBenchError):
    """No registered version answers to the reference asked for (its message names those that exist)."""


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    source: str
    run_id: str | None
    model_id: str | None
    aliases: tuple[str, ...]
    tags: Mapping[str, str]
    created_ms: int

    @property
    def experiment_id(self) -> str | None:
        return self.tags.get(EXPERIMENT_TAG)


@dataclass(frozen=True)
class RegisteredInfo:
    name: str
    aliases: Mapping[str, str]  # alias -> version
    versions: list[VersionInfo] = field(default_factory=list)


def _version(mv: Any, aliases: Mapping[str, str]) -> VersionInfo:
    own = tuple(sorted(a for a, v in aliases.items() if str(v) == str(mv.version)))
    # Some stores leave model_id empty on the version; its `models:/<id>` source names it all the same.
    model_id = getattr(mv, "model_id", None) or (mv.source.removeprefix("models:/").split("/")[0]
                                                 if str(mv.source).startswith("models:/") else None)
    return VersionInfo(name=mv.name, version=str(mv.version), source=mv.source, run_id=mv.run_id,
                       model_id=model_id, aliases=own, tags=dict(mv.tags or {}),
                       created_ms=int(mv.creation_timestamp or 0))


class ModelRegistry:
    """The registered models of one tracking server."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.tracking_uri = validate_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def register(self, *, name: str, source: str, run_id: str, model_id: str | None, alias: str,
                 tags: Mapping[str, str]) -> VersionInfo:
        """A new version of `name` (created if new) from `source`, with `tags`; `alias` then points at it."""
        from mlflow.exceptions import MlflowException

        try:
            with_retries(lambda: self.client.create_registered_model(name), what="registered model creation")
        except MlflowException as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code) and "already exists" not in str(exc):
                raise
        mv = with_retries(lambda: self.client.create_model_version(
            name, source, run_id=run_id, tags={k: str(v) for k, v in tags.items()}, model_id=model_id),
            what="model version creation")
        with_retries(lambda: self.client.set_registered_model_alias(name, alias, mv.version), what="alias")
        return self.get(name, str(mv.version))

    def get(self, name: str, version: str) -> VersionInfo:
        registered = with_retries(lambda: self.client.get_registered_model(name), what="registered model lookup")
        mv = with_retries(lambda: self.client.get_model_version(name, version), what="version lookup")
        return _version(mv, dict(registered.aliases or {}))

    def _info(self, registered: Any) -> RegisteredInfo:
        aliases = {a: str(v) for a, v in (registered.aliases or {}).items()}
        versions = with_retries(lambda: list(self.client.search_model_versions(f"name = '{registered.name}'")),
                                what="versions")
        infos = sorted((_version(mv, aliases) for mv in versions), key=lambda v: int(v.version))
        return RegisteredInfo(name=registered.name, aliases=aliases, versions=infos)

    def list(self) -> list[RegisteredInfo]:
        registered = with_retries(lambda: list(self.client.search_registered_models(max_results=1000)),
                                  what="registered models")
        return sorted((self._info(r) for r in registered), key=lambda r: r.name)

    def resolve(self, name: str, ref: str) -> VersionInfo:
        """`ref` as an alias, a version number or an experiment id (its latest version); else UnknownModelRef."""
        from mlflow.exceptions import MlflowException

        # Only `name` is read (the serving process re-resolves its references every few seconds); the
        # whole registry only when `name` is missing, to say what exists.
        try:
            registered = self._info(with_retries(lambda: self.client.get_registered_model(name),
                                                 what="registered model lookup"))
        except MlflowException as exc:
            if getattr(exc, "error_code", None) not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            names = (", ".join(r.name for r in self.list())
                     or "none yet: promote an experiment with `ferbench promote ID`")
            raise UnknownModelRef(f"no registered model {name!r}; registered models: {names}") from None
        version = registered.aliases.get(ref)
        if version is None and ref.isdigit() and any(v.version == ref for v in registered.versions):
            version = ref
        if version is None:
            by_experiment = [v for v in registered.versions if v.experiment_id == ref]
            if by_experiment:
                version = by_experiment[-1].version
        if version is None:
            aliases = ", ".join(sorted(registered.aliases)) or "none"
            versions = ", ".join(v.version for v in registered.versions) or "none"
            raise UnknownModelRef(f"model {name!r} has no alias, version or experiment {ref!r}; "
                                  f"aliases: {aliases}; versions: {versions}")
        return next(v for v in registered.versions if v.version == version)


def download_version(registry: ModelRegistry, version: VersionInfo) -> str:
    """A local folder holding the version's MLflow model.

    MLflow 3.17 resolves `models:/<id>` through a client of the process-wide tracking URI, not the one
    asked for, so the logged model's own artifact location is fetched instead (`runs:/` likewise).
    """
    import mlflow

    uri = registry.tracking_uri
    if version.model_id:
        location = with_retries(lambda: registry.client.get_logged_model(version.model_id), what="logged model").artifact_location
        return mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=uri)
    run_id, _, path = version.source.removeprefix("runs:/").partition("/")
    return mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=uri)
