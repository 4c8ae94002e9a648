"""`ferbench up`: the whole service on embedded defaults, as child processes of one launcher.

Order matters: migrations run once before anything else (several processes migrating a new store
at once fail), then the tracking server and the broker, then the worker and the API. Whatever is
configured (FERBENCH_BROKER_URL, MLFLOW_TRACKING_URI, FERBENCH_DATABASE_URL) is used instead of
starting a private one. Every child runs in its own process group, so stopping the stack stops
their children too (Celery's pool, uvicorn) and a Ctrl-C in the terminal reaches only the launcher,
which then stops the children in reverse order.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from fer_models.errors import FerBenchError
from ferbench.queue import GPU_QUEUE, make_celery
from ferbench.services.ports import port_is_free
from ferbench.services.process_group import stop_group
from ferbench.services.readiness import tail, wait_until
from ferbench.settings import Settings
from ferbench.urls import redact_url as _redact



class StackError(FerBenchError):
    """A part of the stack could not be started or did not become healthy."""


@dataclass(frozen=True)
class StackUrls:
    api: str
    docs: str
    leaderboard: str
    mlflow_ui: str
    broker: str
    database: str
    serve: str = ""  # the serving process POST /predict forwards to


@dataclass
class ChildProcess:
    """A child started in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] = field(repr=False)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        return tail(self.log_path, lines)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after `grace_s`."""
        stop_group(self.process, grace_s)
        self.log_file.close()


def first_death(children: list[ChildProcess]) -> str | None:
    """What went wrong with the first child that has exited (its exit code and last log lines), else None."""
    for child in children:
        if not child.alive():
            return f"{child.name} exited with code {child.process.returncode}; last lines of {child.log_path}:\n{child.log_tail()}"
    return None


def spawn(name: str, args: list[str], *, env: dict[str, str], log_dir: Path, cwd: Path | None = None) -> ChildProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by ChildProcess.stop
    process = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    return ChildProcess(name=name, process=process, log_path=log_path, log_file=log_file)


def worker_command(*, name: str = "worker", loglevel: str = "INFO", concurrency: int = 1,
                   max_tasks_per_child: int = 1) -> list[str]:
    """The documented worker command line: one process, one task per child (GPU memory is freed on exit).

    Benchmarks on CPU raise `concurrency` and `max_tasks_per_child` (TensorFlow imported once per child).
    """
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-Q", GPU_QUEUE, "-c", str(concurrency), f"--max-tasks-per-child={max_tasks_per_child}", "-P", "prefork",
        "-n", f"{name}@%h", f"--loglevel={loglevel}",
    ]


def workers_answering(broker_url: str, settings: Settings | None = None, timeout_s: float = 1.0) -> int:
    """How many Celery workers answer a ping on `broker_url` within `timeout_s`."""
    app = make_celery(settings or Settings(), broker_url=broker_url)
    try:
        return len(app.control.ping(timeout=timeout_s) or [])
    finally:
        app.close()


def api_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
        "--host", host, "--port", str(port), "--log-level", "warning", "--no-server-header",
    ]


def serve_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "ferbench.cli.main", "serve", "--host", host, "--port", str(port)]


def migrate(database_url: str, log_dir: Path) -> None:
    """Bring the schema to head, once, before any worker or API process exists; Alembic's lines go to
    log_dir/migrate.log. In this process: a second interpreter only cost its start-up (seconds)."""
    from ferbench.db.migrate import upgrade

    log_dir.mkdir(parents=True, exist_ok=True)
    alembic_log = logging.getLogger("alembic")
    handler = logging.FileHandler(log_dir / "migrate.log", mode="w")
    handler.setFormatter(logging.Formatter("%(levelname)s [%(name)s] %(message)s"))
    level = alembic_log.level
    alembic_log.addHandler(handler)
    alembic_log.setLevel(logging.INFO)
    try:
        upgrade(database_url)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise StackError(f"database migration of {_redact(database_url)} failed: "
                         f"{type(exc).__name__}: {first}") from exc
    finally:
        alembic_log.removeHandler(handler)
        alembic_log.setLevel(level)
        handler.close()


class Stack:
    """Starts and stops the local service. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int = 1,
        gpus: list[str] | None = None,
        startup_timeout_s: float = 180.0,
        echo: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.settings = settings
        # One worker per GPU, each seeing only its own device (TensorFlow would otherwise grab them all).
        self.gpus = list(gpus or [])
        self.workers = len(self.gpus) or workers
        self.startup_timeout_s = startup_timeout_s
        self.echo = echo
        self.home = Path(settings.home).resolve()
        self.log_dir = self.home / "logs"
        self.children: list[ChildProcess] = []
        self._servers: list[Any] = []  # private redis / mlflow servers, each with .stop()
        self.urls: StackUrls | None = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- starting ---------------------------------------------------------------------------------
    def start(self) -> StackUrls:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackUrls:
        s = self.settings
        if not port_is_free(s.api_host, s.api_port):
            raise StackError(
                f"port {s.api_port} on {s.api_host} is already in use: stop what runs there or set FERBENCH_API_PORT"
            )
        if not s.serve_url and not port_is_free(s.serve_host, s.serve_port):
            raise StackError(f"port {s.serve_port} on {s.serve_host} is already in use: stop what runs there, "
                             "set FERBENCH_SERVE_PORT, or point FERBENCH_SERVE_URL at a running serving process")
        if not s.mlflow_tracking_uri and not port_is_free(s.mlflow_host, s.mlflow_port):
            raise StackError(
                f"port {s.mlflow_port} on {s.mlflow_host} is already in use: stop what runs there, "
                "set FERBENCH_MLFLOW_PORT, or point MLFLOW_TRACKING_URI at a running tracking server"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        env = self._base_env()

        self.echo("applying database migrations")
        migrate(env["FERBENCH_DATABASE_URL"], self.log_dir)

        tracking_uri = s.mlflow_tracking_uri or self._start_mlflow()
        broker_url = s.broker_url or self._start_redis()
        env.update(FERBENCH_BROKER_URL=broker_url, MLFLOW_TRACKING_URI=tracking_uri)

        for index in range(self.workers):
            self.echo(f"starting worker {index + 1}/{self.workers}")
            worker_env = {**env, "CUDA_VISIBLE_DEVICES": self.gpus[index]} if self.gpus else env
            self.children.append(
                spawn(f"worker-{index + 1}", worker_command(name=f"ferbench-{index + 1}"), env=worker_env, log_dir=self.log_dir)
            )
        if not s.serve_url:
            self.echo("starting the serving process")
            self.children.append(spawn("serve", serve_command(s.serve_host, s.serve_port), env=env,
                                       log_dir=self.log_dir))
        env["FERBENCH_SERVE_URL"] = s.resolved_serve_url
        self.echo("starting the API")
        self.children.append(spawn("api", api_command(s.api_host, s.api_port), env=env, log_dir=self.log_dir))

        api = f"http://{s.api_host}:{s.api_port}"
        wait_until(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, timeout_s=self.startup_timeout_s,
                   what=f"the API at {api}/health", died=self._first_death, error=StackError)
        self._wait_for_workers(broker_url)
        serve = s.resolved_serve_url
        wait_until(lambda: httpx.get(f"{serve}/health", timeout=2).status_code == 200,
                   timeout_s=self.startup_timeout_s, what=f"the serving process at {serve}/health",
                   died=self._first_death, error=StackError)
        self.urls = StackUrls(
            api=api, docs=f"{api}/docs", leaderboard=f"{api}/leaderboard",
            mlflow_ui=_ui_url(tracking_uri), broker=_redact(broker_url), database=_redact(env["FERBENCH_DATABASE_URL"]),
            serve=serve,
        )
        return self.urls

    def _base_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            FERBENCH_HOME=str(self.home),
            FERBENCH_DATA_DIR=str(Path(s.data_dir).resolve()),
            FERBENCH_DATABASE_URL=s.resolved_database_url,
            FERBENCH_API_HOST=s.api_host,
            FERBENCH_API_PORT=str(s.api_port),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _start_redis(self) -> str:
        from ferbench.services.redis_server import start_redis

        self.echo("starting a private redis-server")
        server = start_redis(self.home / "redis")
        self._servers.append(server)
        return server.url

    def _start_mlflow(self) -> str:
        from fer_models.tracking.uri import default_store_dir
        from ferbench.services import mlflow_server

        self.echo("starting the MLflow tracking server")
        server = mlflow_server.start_mlflow_server(
            default_store_dir(self.home), host=self.settings.mlflow_host, port=self.settings.mlflow_port
        )
        self._servers.append(server)
        return str(server.url)

    def _wait_for_workers(self, broker_url: str) -> None:
        """Until every worker answers a ping; one Celery client (and its broker connection) for all the polls."""
        app = make_celery(self.settings, broker_url=broker_url)
        try:
            wait_until(lambda: len(app.control.ping(timeout=1.0) or []) >= self.workers,
                       timeout_s=self.startup_timeout_s, what="the worker", died=self._first_death, error=StackError)
        finally:
            app.close()

    def _first_death(self) -> str | None:
        return first_death(self.children)

    # -- stopping ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the API first (no new submissions), then workers, then the servers they use."""
        for child in reversed(self.children):
            child.stop(grace_s=20.0 if child.name.startswith("worker") else 10.0)
        self.children.clear()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()

    def wait(self) -> int:
        """Block until a signal arrives or a child dies; returns the exit code for the CLI."""
        received: list[int] = []

        def handler(signum: int, _frame: object) -> None:
            received.append(signum)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not received:
                dead = self._first_death()
                if dead:
                    self.echo(dead)
                    return 1
                time.sleep(0.5)
            return 0
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _ui_url(tracking_uri: str) -> str:
    return tracking_uri if tracking_uri.startswith(("http://", "https://")) else f"(no UI: tracking URI is {tracking_uri})"
