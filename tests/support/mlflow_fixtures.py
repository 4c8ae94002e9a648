"""A real `mlflow server` for tests (sqlite store + served artifacts in a temp folder).

Use from a conftest.py:  `from tests.support.mlflow_fixtures import mlflow_server  # noqa: F401`
The server is started once per test session (about 10 s on 2 cores) and stopped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferbench.services.mlflow_server import MlflowServer, start_mlflow_server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield server
    finally:
        server.stop(timeout=5.0)  # SIGKILL after 5 s: a test store needs no graceful drain


@pytest.fixture
def mlflow_tracking_uri(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URI, also exported as MLFLOW_TRACKING_URI for code that reads the settings."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    from ferbench.settings import get_settings

    get_settings.cache_clear()
    return mlflow_server.url
