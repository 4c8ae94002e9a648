"""`ferbench db upgrade`: the prestart step creates the schema, and running it again is harmless."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ferbench.cli.main import cli
from ferbench.db.leaderboard import leaderboard
from ferbench.db.migrate import alembic_config, upgrade
from ferbench.db.models import METRICS
from ferbench.db.session import make_engine, make_session_factory


def test_db_upgrade_creates_tables_and_leaderboard_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'x.db'}"
    monkeypatch.setenv("FERBENCH_DATABASE_URL", url)
    runner = CliRunner()
    for _ in range(2):  # idempotent: a second prestart run changes nothing
        outcome = runner.invoke(cli, ["db", "upgrade"])
        assert outcome.exit_code == 0, outcome.output
    current = runner.invoke(cli, ["db", "current", "--json"])
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert json.loads(current.output)["revision"] == head
    engine = make_engine(url)
    inspector = inspect(engine)
    assert {"experiments", "results", "alembic_version"} <= set(inspector.get_table_names())
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("results")}
    assert {("dataset", m) for m in METRICS} <= indexed
    assert ("model",) in indexed and ("split_fingerprint",) in indexed
    grouped = {tuple(ix["column_names"]) for ix in inspector.get_indexes("result_groups")}
    assert {("dataset", f"{m}_mean") for m in METRICS} <= grouped
    engine.dispose()


def test_the_group_migrations_backfill_results_stored_before_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        for i, (seed, acc) in enumerate([(0, 0.5), (1, 0.7)]):
            conn.execute(text(
                "INSERT INTO experiments (id, status, model, dataset, spec, seed, spec_key, batch_index, attempts, "
                "cancel_requested, created_at) VALUES (:id, 'succeeded', 'vgg19', 'synthetic', :spec, :seed, 'k', 0, 1, "
                "0, '2026-01-01')"), {"id": f"e{i}", "seed": seed, "spec": json.dumps({"model": "vgg19", "seed": seed})})
            conn.execute(text(
                "INSERT INTO results (experiment_id, model, dataset, split_fingerprint, spec_key, seed, accuracy, "
                "mlflow_run_id, created_at) VALUES (:id, 'vgg19', 'synthetic', 'fp', 'k', :seed, :acc, :run, "
                "'2026-01-01')"), {"id": f"e{i}", "seed": seed, "acc": acc, "run": f"r{i}"})
    upgrade(url)
    session = make_session_factory(engine)()
    (entry,) = leaderboard(session, dataset="synthetic")
    assert entry.n_seeds == 2 and abs(entry.mean - 0.6) < 1e-12 and entry.experiment_ids == ["e0", "e1"]
    assert entry.mlflow_run_ids == ["r0", "r1"] and entry.mlflow_run_id == "r1" and entry.spec == {"model": "vgg19"}
    session.close()
    engine.dispose()


def test_db_upgrade_reports_an_unreachable_database_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERBENCH_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    outcome = CliRunner().invoke(cli, ["db", "upgrade"])
    assert outcome.exit_code != 0
    assert "could not migrate" in outcome.output and "secret" not in outcome.output


def test_the_migrations_build_exactly_the_schema_the_models_declare(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ferbench.db.models import Base

    from optuna.storages._rdb import models as optuna_models

    url = f"sqlite:///{tmp_path / 'head.db'}"
    upgrade(url)
    engine = make_engine(url)
    optuna_tables = set(optuna_models.BaseModel.metadata.tables)
    # Optuna's study tables (migration 0009) are Optuna's schema, not ours: compared below against its models.
    ours = {"include_name": lambda name, kind, _: kind != "table" or name not in optuna_tables}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=ours), Base.metadata) == []
        assert optuna_tables <= set(inspect(conn).get_table_names())
    engine.dispose()
