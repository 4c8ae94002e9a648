from pathlib import Path

import pytest
from pydantic import ValidationError

from ferbench.settings import Settings


def test_defaults_put_state_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FERBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("FERBENCH_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'ferbench.db').resolve()}"
    assert settings.cache_dir == tmp_path / "cache"


def test_environment_names_from_design(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERBENCH_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("FERBENCH_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("FERBENCH_API_KEYS", " k1, k2 ,")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert settings.broker_url == "redis://127.0.0.1:6379/3"
    assert settings.mlflow_tracking_uri == "http://127.0.0.1:5999"
    assert settings.api_key_list == ["k1", "k2"]


@pytest.mark.parametrize(("name", "value"), [("FERBENCH_MAX_EPOCHS", "1001"), ("FERBENCH_MAX_BATCH_SIZE", "0")])
def test_caps_outside_the_specs_ranges_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("FERBENCH_").lower()):
        Settings()
