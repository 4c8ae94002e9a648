"""Suite-wide set-up: a private state folder per session and a quiet TensorFlow.

TensorFlow runs as users run it, with oneDNN on: the suite once turned it off, and so missed the
oneDNN crash that killed mini-xception on odd batches (issue 17).
"""

from __future__ import annotations

import os

# Must happen before anything imports keras: the backend is fixed at import time.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

# One real `mlflow server`, one database per backend and one tiny FER2013 in every source form for the
# whole session, shared by every directory that needs them.
pytest_plugins = ["tests.support.mlflow_fixtures", "tests.support.db_fixtures", "tests.support.fer_data"]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes ./var, ./data or a user's MLflow store by accident."""
    from ferbench.settings import get_settings

    home = tmp_path_factory.mktemp("ferbench-home")
    monkeypatch.setenv("FERBENCH_HOME", str(home))
    monkeypatch.setenv("FERBENCH_DATA_DIR", str(home / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
