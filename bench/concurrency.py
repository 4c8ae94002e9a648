"""200 concurrent submissions from 20 clients, run to the end by a real Celery worker: each exactly once.

Starts, in a temporary folder: a private redis-server, `mlflow server`, the database (SQLite, or a
fresh PostgreSQL database), migrations, the API under uvicorn and one Celery worker (the documented
command, except `-c`/`--max-tasks-per-child`, raised so that TensorFlow is imported once per pool
child instead of once per tiny experiment). Then N client threads each submit their share of
1-epoch cnn-small experiments on a tiny emotion-folder dataset, every request with an
Idempotency-Key and every request sent twice (a client retrying after a lost answer). When every
experiment has finished it counts, per experiment: rows, API answers, deliveries and task runs in
the worker log, claims (`attempts`), leaderboard result rows and MLflow runs. Every count must be
exactly one; the script exits 1 otherwise. By default the clients start once the worker answers a
ping; `--submit-while-worker-starts` submits during its start-up instead.

    python -m bench.concurrency --experiments 200 --clients 20 --backend sqlite
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import select

from ferbench.db.models import Experiment, Result
from ferbench.db.session import make_engine
from ferbench.services.mlflow_server import start_mlflow_server
from ferbench.services.ports import free_port
from ferbench.services.readiness import wait_until
from ferbench.services.redis_server import start_redis
from ferbench.stack import ChildProcess, api_command, first_death, migrate, spawn, worker_command, workers_answering
from ferbench.testing.databases import postgres_database
from ferbench.testing.face_folders import write_face_folders
from ferbench.testing.worker import service_env

ROOT = Path(__file__).resolve().parents[1]
DATASET = "faces"
TERMINAL = {"succeeded", "failed", "cancelled"}
RECEIVED = re.compile(r"Task ferbench\.run_experiment\[([0-9a-f-]{36})\] received")
FINISHED = re.compile(r"Task ferbench\.run_experiment\[([0-9a-f-]{36})\] succeeded in")


def submit_all(api: str, experiments: int, clients: int, spec: dict) -> tuple[list[str], Counter[int], float]:
    """Each client thread submits its share, each request twice with one key; returns ids, codes, seconds."""
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    share = [experiments // clients + (1 if c < experiments % clients else 0) for c in range(clients)]
    first_seed = [sum(share[:c]) for c in range(clients)]

    def client(c: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=api, timeout=120) as http:
            for k in range(share[c]):
                body, key = {**spec, "seed": first_seed[c] + k}, {"Idempotency-Key": f"bench-{c}-{k}"}
                answers = [http.post("/experiments", json=body, headers=key) for _ in range(2)]
                with lock:
                    codes.update(a.status_code for a in answers)
                if all(a.status_code == 202 for a in answers):
                    assert answers[0].json()["id"] == answers[1].json()["id"], "a retry created a second experiment"
                    ids.append(answers[0].json()["id"])
        return ids

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        ids = [i for batch in pool.map(client, range(clients)) for i in batch]
    return ids, codes, time.perf_counter() - started


def mlflow_runs_per_experiment(tracking_uri: str) -> Counter[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs: Counter[str] = Counter()
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=1000, page_token=token)
        runs.update(r.data.tags.get("experiment_id", "?") for r in page)
        token = page.token
        if not token:
            return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (-c)")
    parser.add_argument("--max-tasks-per-child", type=int, default=1000)
    parser.add_argument("--faces", type=int, default=140, help="images in the tiny dataset")
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--submit-while-worker-starts", action="store_true",
                        help="submit as soon as the API answers, while the worker may still be starting")
    parser.add_argument("--logs", type=Path, help="copy the api/worker logs here")
    args = parser.parse_args()
    spec = {"model": "cnn-small", "dataset": DATASET, "epochs": 1, "batch_size": 32,
            "hyperparameters": {"filters": 8, "blocks": 2, "dense_units": 16}}

    with tempfile.TemporaryDirectory(prefix="ferbench-concurrency-") as tmp:
        home = Path(tmp)
        write_face_folders(home / "data", DATASET, n=args.faces)
        database = postgres_database("concurrency") if args.backend == "postgresql" else nullcontext(f"sqlite:///{home / 'ferbench.db'}")
        children: list[ChildProcess] = []
        with database as database_url, start_redis(home / "redis", persistent=False) as redis_server, \
                start_mlflow_server(home / "mlflow") as mlflow_server:
            env = service_env(home=home, database_url=database_url, broker_url=redis_server.url,
                              tracking_uri=mlflow_server.url)
            migrate(database_url, home / "logs")
            try:
                port = free_port()
                api = f"http://127.0.0.1:{port}"
                children.append(spawn("api", [*api_command("127.0.0.1", port), "--no-server-header"], env=env,
                                      log_dir=home / "logs", cwd=ROOT))
                worker_cmd = worker_command(name="bench", concurrency=args.concurrency,
                                            max_tasks_per_child=args.max_tasks_per_child)
                children.append(spawn("worker", worker_cmd, env=env, log_dir=home / "logs", cwd=ROOT))
                died = partial(first_death, children)

                wait_until(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, timeout_s=120,
                           what="the API", died=died, error=RuntimeError, retry_on=(httpx.TransportError,), interval_s=1.0)
                if not args.submit_while_worker_starts:
                    wait_until(lambda: workers_answering(redis_server.url), timeout_s=180, what="the worker", died=died,
                               error=RuntimeError, interval_s=1.0)
                print(f"stack up in {home}; submitting", file=sys.stderr)
                started = time.perf_counter()
                ids, codes, submit_s = submit_all(api, args.experiments, args.clients, spec)
                engine = make_engine(database_url)

                def all_finished() -> bool:
                    with engine.connect() as conn:
                        statuses = Counter(conn.execute(select(Experiment.status)).scalars())
                    print(f"  {time.perf_counter() - started:6.0f} s  {dict(statuses)}", file=sys.stderr)
                    return sum(statuses[s] for s in TERMINAL) >= len(ids)

                wait_until(all_finished, timeout_s=args.timeout_s, what="every experiment to finish", died=died,
                           error=RuntimeError, retry_on=(), interval_s=1.0)
                total_s = time.perf_counter() - started
                worker_log = (home / "logs" / "worker.log").read_text(errors="replace")
                with engine.connect() as conn:
                    rows = conn.execute(select(Experiment.id, Experiment.status, Experiment.attempts)).all()
                    results = Counter(conn.execute(select(Result.experiment_id)).scalars())
                engine.dispose()
                runs = mlflow_runs_per_experiment(mlflow_server.url)
            finally:
                for child in reversed(children):
                    child.stop()
                if args.logs:
                    shutil.copytree(home / "logs", args.logs, dirs_exist_ok=True)

    received, executed = Counter(RECEIVED.findall(worker_log)), Counter(FINISHED.findall(worker_log))
    per_id = {
        "API answer (distinct id)": Counter(ids),
        "experiments row": Counter(r.id for r in rows),
        "claims (attempts)": Counter({r.id: r.attempts for r in rows}),
        "deliveries (worker log)": received,
        "task runs (worker log; a duplicate is a no-op that cannot claim)": executed,
        "results row": results,
        "MLflow run": runs,
    }
    wanted = set(ids)
    report = {
        "experiments": args.experiments, "clients": args.clients, "backend": args.backend,
        "worker": f"-c {args.concurrency} --max-tasks-per-child={args.max_tasks_per_child}",
        "requests": sum(codes.values()), "status_codes": dict(codes),
        "submit_seconds": round(submit_s, 1), "requests_per_second": round(sum(codes.values()) / submit_s, 1),
        "total_seconds": round(total_s, 1),
        "experiments_per_minute": round(len(ids) / total_s * 60, 1),
        "final_statuses": dict(Counter(r.status for r in rows)),
        "counts": {name: {"total": sum(c.values()), "ids_exactly_once": sum(1 for i in wanted if c.get(i) == 1),
                          "ids_missing": sum(1 for i in wanted if not c.get(i)),
                          "ids_more_than_once": sum(1 for i in wanted if c.get(i, 0) > 1),
                          "unexpected_ids": len(set(c) - wanted)}
                   for name, c in per_id.items()},
    }
    ok = len(wanted) == args.experiments and all(
        v["ids_exactly_once"] == args.experiments and v["unexpected_ids"] == 0 for v in report["counts"].values())
    report["every_count_exactly_once"] = ok
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
