"""API speed: GET /leaderboard over 10,000 results vs MLflow's search_runs; POST /experiments latency and burst.

Through the whole HTTP stack: a `uvicorn api.main:create_app --factory` subprocess, queried with httpx
(keep-alive), on SQLite and on PostgreSQL (a uniquely named database on 127.0.0.1:5432, dropped after).
Baseline in the same run: MLflow's `search_runs` for the same top-20 question (dataset filter, order by
test accuracy) over 10,000 runs in MLflow's own store (SQLite file; PostgreSQL database), filled by direct
SQL inserts into MLflow's tables after MLflow created and migrated the schema (creating 10,000 runs through
the client takes minutes). It is timed from a client on the store itself and through `mlflow server`. Submissions go to a real Redis (an unused database number, purged after).

    python -m bench.bench_api [--results 10000] [--queries 200] [--backends sqlite,postgresql] [--sqlite-analyze]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Iterator

import httpx
import redis
from sqlalchemy import create_engine, insert, text

from ferbench.db.hashing import spec_key
from ferbench.db.leaderboard import rebuild_result_groups
from ferbench.db.migrate import upgrade
from ferbench.db.models import METRICS, Experiment, Result
from ferbench.db.session import make_engine, make_session_factory
from ferbench.services.mlflow_server import start_mlflow_server
from ferbench.testing.databases import postgres_database, private_redis
from ferbench.testing.live_api import live_api

MODELS = [("cnn-small", "cnn"), ("cnn-medium", "cnn"), ("vgg19", "vgg"), ("resnet50", "resnet"),
          ("mobilenet-v2", "mobilenet"), ("efficientnet-b0", "efficientnet"), ("convnext-tiny", "convnext"),
          ("vit-tiny", "vit")]
DATASETS = ["synthetic", "fer2013", "ckplus"]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@contextmanager
def database(backend: str, tmp: Path, purpose: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{purpose}.db'}"
        return
    with postgres_database(f"bench_{purpose}") as url:
        yield url


def synthetic_rows(n: int, rng: random.Random) -> list[dict]:
    """n finished experiments: specs repeated with 1-3 seeds, three datasets, eight models."""
    rows = []
    while len(rows) < n:
        model, family = rng.choice(MODELS)
        dataset = rng.choice(DATASETS)
        spec = {"model": model, "dataset": dataset, "epochs": rng.choice([10, 30, 50]),
                "learning_rate": rng.choice([1e-2, 1e-3, 3e-4, 1e-4]), "batch_size": rng.choice([32, 64, 128]),
                "hyperparameters": {"dropout": rng.choice([0.1, 0.3, 0.5])}}
        key = spec_key(spec)
        for seed in range(rng.randint(1, 3)):
            metrics = {m: rng.random() for m in METRICS}
            rows.append({"id": str(uuid.uuid4()), "spec": {**spec, "seed": seed}, "spec_key": key, "seed": seed,
                         "model": model, "family": family, "dataset": dataset, "metrics": metrics,
                         "run_id": uuid.uuid4().hex})
    return rows[:n]


def fill_leaderboard(url: str, rows: list[dict]) -> None:
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(Experiment), [
            {"id": r["id"], "status": "succeeded", "model": r["model"], "family": r["family"], "dataset": r["dataset"],
             "spec": r["spec"], "seed": r["seed"], "spec_key": r["spec_key"], "batch_index": 0, "attempts": 1,
             "cancel_requested": False, "created_at": now, "finished_at": now, "mlflow_run_id": r["run_id"]}
            for r in rows])
        conn.execute(insert(Result), [
            {"experiment_id": r["id"], "model": r["model"], "family": r["family"], "dataset": r["dataset"],
             "split_fingerprint": f"{r['dataset']}-split", "spec_key": r["spec_key"], "seed": r["seed"],
             "mlflow_run_id": r["run_id"], "per_class": {}, "created_at": now, **r["metrics"]}
            for r in rows])
    session = make_session_factory(engine)()
    rebuild_result_groups(session)  # the groups finish_experiment keeps row by row, for the bulk-loaded rows
    session.close()
    engine.dispose()


def analyze(url: str, sqlite_too: bool) -> None:
    """Planner statistics, as a PostgreSQL database that has been running a while has them (autovacuum).

    Run on both stores, ours and MLflow's, so neither query is planned blind after the bulk load. SQLite
    never gathers statistics by itself, so its stores stay as they are unless --sqlite-analyze.
    """
    if url.startswith("sqlite") and not sqlite_too:
        return
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def fill_mlflow(url: str, rows: list[dict], artifacts: Path) -> tuple[str, float]:
    """MLflow creates and migrates its store; the 10,000 runs go in by direct inserts. Returns (experiment id, s)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment("bench", artifact_location=artifacts.as_uri())
    started = time.perf_counter()
    engine = create_engine(url)
    now = int(time.time() * 1000)
    runs, params, metrics, latest, tags = [], [], [], [], []
    for r in rows:
        runs.append({"run_uuid": r["run_id"], "name": r["id"][:8], "source_type": "LOCAL", "source_name": "",
                     "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": now,
                     "end_time": now, "source_version": "", "lifecycle_stage": "active",
                     "artifact_uri": f"{artifacts.as_uri()}/{r['run_id']}", "experiment_id": int(experiment_id)})
        for k, v in (("model", r["model"]), ("dataset", r["dataset"]), ("seed", str(r["seed"])),
                     ("learning_rate", str(r["spec"]["learning_rate"])), ("epochs", str(r["spec"]["epochs"]))):
            params.append({"key": k, "value": v, "run_uuid": r["run_id"]})
        tags.append({"key": "experiment_id", "value": r["id"], "run_uuid": r["run_id"]})
        for m, v in r["metrics"].items():
            row = {"key": f"test_{m}", "value": v, "timestamp": now, "step": 0, "is_nan": False, "run_uuid": r["run_id"]}
            metrics.append(row)
            latest.append(row)
    with engine.begin() as conn:
        for table, values in (("runs", runs), ("params", params), ("tags", tags), ("metrics", metrics),
                              ("latest_metrics", latest)):
            cols = list(values[0])
            stmt = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
            conn.execute(text(stmt), values)
    engine.dispose()
    return experiment_id, time.perf_counter() - started


def time_mlflow(tracking_uri: str, experiment_id: str, repeats: int) -> tuple[list[float], list[str]]:
    """search_runs from a client: on the store directly (a database URL) or through `mlflow server` (http)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    times, top = [], []
    for timed in [False] + [True] * repeats:  # the first call builds MLflow's store: a warm-up, as ours gets
        started = time.perf_counter()
        runs = client.search_runs([experiment_id], filter_string="params.dataset = 'synthetic'",
                                  order_by=["metrics.test_accuracy DESC"], max_results=20)
        if timed:
            times.append(time.perf_counter() - started)
        top = [run.info.run_id for run in runs]
    return times, top


def bench_backend(backend: str, args: argparse.Namespace, rows: list[dict], broker_url: str, tmp: Path) -> dict:
    out: dict = {"backend": backend}
    with ExitStack() as stack:
        lb_url = stack.enter_context(database(backend, tmp, "leaderboard"))
        fill_leaderboard(lb_url, rows)
        mlflow_url = stack.enter_context(database(backend, tmp, "mlflow"))
        experiment_id, out["mlflow_fill_s"] = fill_mlflow(mlflow_url, rows, tmp / f"artifacts-{backend}")
        for url in (lb_url, mlflow_url):
            analyze(url, sqlite_too=args.sqlite_analyze)
        home = tmp / f"home-{backend}"
        home.mkdir()
        base = stack.enter_context(live_api(home=home, database_url=lb_url, broker_url=broker_url, log_level="warning",
                                            access_log=False)).url
        with httpx.Client(base_url=base, timeout=30) as http:
            params = {"dataset": "synthetic", "metric": "accuracy", "limit": 20}
            for _ in range(10):  # warm-up: connection pool, query plans
                http.get("/leaderboard", params=params).raise_for_status()
            times = []
            for _ in range(args.queries):
                started = time.perf_counter()
                answer = http.get("/leaderboard", params=params)
                times.append(time.perf_counter() - started)
                answer.raise_for_status()
            assert len(answer.json()["entries"]) == 20
            out["leaderboard_p50_ms"], out["leaderboard_p95_ms"] = p(times, 0.5) * 1e3, p(times, 0.95) * 1e3
            mlflow_times, direct_top = time_mlflow(mlflow_url, experiment_id, args.mlflow_repeats)
            out["mlflow_p50_ms"], out["mlflow_p95_ms"] = p(mlflow_times, 0.5) * 1e3, p(mlflow_times, 0.95) * 1e3
            with start_mlflow_server(tmp / f"mlflow-server-{backend}", store_uri=mlflow_url) as server:
                served_times, served_top = time_mlflow(server.url, experiment_id, args.mlflow_repeats)
            assert served_top == direct_top
            out["served_p50_ms"], out["served_p95_ms"] = p(served_times, 0.5) * 1e3, p(served_times, 0.95) * 1e3

            body = {"model": "cnn-small", "dataset": "synthetic", "epochs": 1}
            post_times = []
            for seed in range(args.posts):
                started = time.perf_counter()
                http.post("/experiments", json={**body, "seed": seed}).raise_for_status()
                post_times.append(time.perf_counter() - started)
            out["post_p50_ms"], out["post_p95_ms"] = p(post_times, 0.5) * 1e3, p(post_times, 0.95) * 1e3

        broker = redis.Redis.from_url(broker_url)
        broker.delete("gpu")

        def submit(seed: int) -> str:
            with httpx.Client(base_url=base, timeout=60) as c:
                answer = c.post("/experiments", json={**body, "seed": 10_000 + seed})
                answer.raise_for_status()
                return answer.json()["id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=20) as pool:
            ids = list(pool.map(submit, range(args.burst)))
        out["burst_s"] = time.perf_counter() - started
        engine = make_engine(lb_url)
        with engine.connect() as conn:
            from sqlalchemy import select

            recorded = conn.execute(select(Experiment.id).where(Experiment.id.in_(ids),
                                                                Experiment.status == "queued")).all()
        engine.dispose()
        out["burst_recorded"], out["burst_enqueued"] = len(recorded), broker.llen("gpu")
        broker.delete("gpu")
        broker.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--mlflow-repeats", type=int, default=20)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-analyze", action="store_true",
                        help="run ANALYZE on the SQLite stores too (MLflow's SQLite store never does by itself)")
    args = parser.parse_args()
    rows = synthetic_rows(args.results, random.Random(0))
    with tempfile.TemporaryDirectory() as tmp, private_redis() as broker_url:
        reports = [bench_backend(b, args, rows, broker_url, Path(tmp)) for b in args.backends.split(",")]
    for r in reports:
        print(f"[{r['backend']}] GET /leaderboard top 20 of {args.results} results: p50 {r['leaderboard_p50_ms']:.1f} ms, "
              f"p95 {r['leaderboard_p95_ms']:.1f} ms ({args.queries} requests, uvicorn subprocess + httpx)")
        print(f"[{r['backend']}] MLflow search_runs same top 20 of {args.results} runs: p50 {r['mlflow_p50_ms']:.0f} ms, "
              f"p95 {r['mlflow_p95_ms']:.0f} ms ({args.mlflow_repeats} queries; store filled in {r['mlflow_fill_s']:.1f} s)")
        print(f"[{r['backend']}] ratio MLflow p95 / leaderboard p95: {r['mlflow_p95_ms'] / r['leaderboard_p95_ms']:.1f}x")
        print(f"[{r['backend']}] MLflow search_runs through `mlflow server` (HTTP, like the leaderboard): "
              f"p50 {r['served_p50_ms']:.0f} ms, p95 {r['served_p95_ms']:.0f} ms; "
              f"ratio {r['served_p95_ms'] / r['leaderboard_p95_ms']:.1f}x")
        print(f"[{r['backend']}] POST /experiments: p50 {r['post_p50_ms']:.1f} ms, p95 {r['post_p95_ms']:.1f} ms "
              f"({args.posts} sequential)")
        print(f"[{r['backend']}] {args.burst} parallel submissions (20 threads): {r['burst_recorded']} recorded queued, "
              f"{r['burst_enqueued']} messages in queue gpu, {r['burst_s']:.2f} s")


if __name__ == "__main__":
    main()
