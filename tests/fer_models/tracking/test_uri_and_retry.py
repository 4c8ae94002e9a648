import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

from fer_models.tracking.retry import with_retries
from fer_models.tracking.uri import TrackingError, default_tracking_uri, local_artifact_root, validate_tracking_uri


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://mlflow.example.org", "sqlite:////tmp/x/mlflow.db",
                                 "postgresql+psycopg://u@h/db"])
def test_servers_and_database_stores_are_accepted(uri: str) -> None:
    assert validate_tracking_uri(uri) == uri


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "/tmp/mlruns", "mlruns", "./mlruns"])
def test_file_store_is_rejected_with_what_to_use_instead(uri: str) -> None:
    with pytest.raises(TrackingError, match=r"file store is deprecated.*http\(s\)://.*sqlite:///"):
        validate_tracking_uri(uri)


def test_sqlite_default_keeps_artifacts_beside_the_database(tmp_path) -> None:
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert local_artifact_root(uri) == (tmp_path.resolve() / "mlflow" / "mlartifacts").as_uri()
    assert local_artifact_root("http://127.0.0.1:5000") is None


def test_transient_errors_are_retried_with_growing_delays() -> None:
    calls, delays = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("server restarting")
        return "ok"

    assert with_retries(flaky, what="test", sleep=delays.append, base_delay=0.1) == "ok"
    assert len(calls) == 3
    assert delays == [0.1, 0.2]


def test_permanent_errors_are_not_retried_and_attempts_are_bounded() -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST)

    with pytest.raises(MlflowException):
        with_retries(bad, what="test", sleep=lambda _: None)
    assert len(calls) == 1

    def down() -> None:
        calls.append(1)
        raise ConnectionError("down")

    calls.clear()
    with pytest.raises(ConnectionError):
        with_retries(down, what="test", attempts=3, sleep=lambda _: None)
    assert len(calls) == 3
