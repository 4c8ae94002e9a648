"""`mlflow server` on a PostgreSQL store (compose's layout): created, migrated, served, stopped."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from sqlalchemy import text

from ferbench.db.session import make_engine
from ferbench.services.mlflow_server import start_mlflow_server
from tests.ferbench.db.backends import postgres_database


def test_a_postgresql_store_is_migrated_served_and_holds_the_runs(tmp_path: Path) -> None:
    with postgres_database("mlflowstore") as store:
        with start_mlflow_server(tmp_path / "mlflow", store_uri=store) as server:
            assert server.backend_uri == store
            client = MlflowClient(tracking_uri=server.url)
            experiment_id = client.create_experiment("ferbench-synthetic")
            run = client.create_run(experiment_id, tags={"experiment_id": "e-1"})
            client.log_metric(run.info.run_id, "test_accuracy", 0.61)
            (found,) = client.search_runs([experiment_id], order_by=["metrics.test_accuracy DESC"])
            assert found.data.metrics["test_accuracy"] == 0.61 and found.data.tags["experiment_id"] == "e-1"
        assert not server.running()
        engine = make_engine(store)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT run_uuid FROM runs")).scalars().all()
        engine.dispose()
        assert stored == [run.info.run_id]
        assert not (tmp_path / "mlflow" / "mlflow.db").exists()  # nothing went to the default sqlite file
