"""`mlflow server` on a PostgreSQL store (compose's layout): created, migrated, served, stopped."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from sqlalchemy import text

from ferbench.db.session import make_engine
from ferbench.services.mlflow_server import start_mlflow_server
from ferbench.testing.databases import postgres_database


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


def test_runs_logged_through_the_server_are_readable_from_its_sqlite_store_alone(tmp_path: Path) -> None:
    """`ferbench evaluate` and `visualize` open the store file; the server may be stopped by then."""
    report = tmp_path / "per_class_report.json"
    report.write_text('{"accuracy": 0.5}')
    with start_mlflow_server(tmp_path / "mlflow") as server:
        client = MlflowClient(tracking_uri=server.url)
        run = client.create_run(client.create_experiment("ferbench-synthetic"))
        client.log_artifact(run.info.run_id, str(report))
        client.set_terminated(run.info.run_id)
    offline = MlflowClient(tracking_uri=server.backend_uri)
    (found,) = offline.search_runs([run.info.experiment_id])
    local = offline.download_artifacts(found.info.run_id, "per_class_report.json", str(tmp_path / "out"))
    assert Path(local).read_text() == '{"accuracy": 0.5}'
