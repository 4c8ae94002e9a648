from tests.support.mlflow_fixtures import mlflow_server, mlflow_tracking_uri  # noqa: F401
