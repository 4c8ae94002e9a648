"""docker-compose.yml, the Dockerfiles and the MLflow entrypoint, checked statically (no Docker engine here).

They must agree with the code: the settings the services read, the ports they listen on, the
commands the images run, and the rule that the broker, the databases and the tracking server are
not reachable from outside the machine unless someone opts in.
"""

from __future__ import annotations

import importlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from ferbench.services.process_group import stop_group
from ferbench.services.readiness import exited, wait_until
from ferbench.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
LONG_RUNNING = ("redis", "postgres", "mlflow", "api", "worker", "worker-cpu")
PRIVATE = ("redis", "postgres", "mlflow")
CONTAINER_PORTS = {"redis": 6379, "postgres": 5432, "mlflow": 5000, "api": 8000}
VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def resolve(text: str) -> str:
    """What compose substitutes when the variable is unset: its `:-default`, else nothing."""
    return VAR.sub(lambda m: m.group(3) if m.group(2) in (":-", "-") else "", str(text))


def env_of(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment should be a mapping"
    return {k: str(v) for k, v in env.items()}


def settings_env_names() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        names.add(f"FERBENCH_{name.upper()}")
        alias = info.validation_alias
        names.update(getattr(alias, "choices", []) or [])
    return names


def test_every_service_the_settings_need_exists() -> None:
    assert {"redis", "postgres", "mlflow", "prestart", "api", "worker"} <= set(SERVICES)


@pytest.mark.parametrize("service", ["api", "worker", "worker-cpu", "prestart"])
def test_ferbench_variables_are_settings_fields_and_point_at_compose_services(service: str) -> None:
    env = env_of(service)
    known = settings_env_names()
    unknown = [k for k in env if k.startswith("FERBENCH_") and k not in known]
    assert not unknown, f"{service} sets variables no settings field reads: {unknown}"
    for key, target in (("FERBENCH_DATABASE_URL", "postgres"), ("FERBENCH_BROKER_URL", "redis"), ("MLFLOW_TRACKING_URI", "mlflow")):
        url = urlparse(resolve(env[key]))
        assert url.hostname == target, f"{service}: {key} should name the {target} service, got {url.hostname}"
        assert url.port == CONTAINER_PORTS[target], f"{service}: {key} port {url.port} != {target}'s {CONTAINER_PORTS[target]}"
    assert env["FERBENCH_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_api_listens_on_the_settings_port_and_publishes_only_on_localhost_by_default() -> None:
    command = SERVICES["api"]["command"]
    port = int(command[command.index("--port") + 1])
    assert port == Settings.model_fields["api_port"].default == CONTAINER_PORTS["api"]
    (published,) = SERVICES["api"]["ports"]
    host, host_port, container_port = resolve(published).split(":")
    assert (host, int(container_port)) == ("127.0.0.1", port)
    assert int(host_port) == port


def test_broker_databases_and_tracking_server_are_not_published_beyond_localhost() -> None:
    for name in PRIVATE:
        for mapping in SERVICES[name].get("ports", []):
            assert resolve(mapping).startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond localhost"
    assert "ports" not in SERVICES["redis"] and "ports" not in SERVICES["postgres"]
    # Internal-only network for the broker and the database.
    assert COMPOSE["networks"]["backend"].get("internal") is True
    for name in ("redis", "postgres"):
        assert SERVICES[name]["networks"] == ["backend"]


def test_mlflow_accepts_the_api_and_worker_containers_and_its_own_service_name() -> None:
    env = env_of("mlflow")
    hosts = set(resolve(env["MLFLOW_ALLOWED_HOSTS"]).split(","))
    tracking_host = urlparse(resolve(env_of("api")["MLFLOW_TRACKING_URI"])).netloc
    assert {"api", "worker", tracking_host} <= hosts
    assert resolve(env["MLFLOW_CORS_ALLOWED_ORIGINS"])
    assert "/mlartifacts" in " ".join(SERVICES["mlflow"]["volumes"])


def test_redis_never_evicts_and_persists() -> None:
    command = " ".join(SERVICES["redis"]["command"])
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


def test_every_long_running_service_has_a_health_check() -> None:
    for name in LONG_RUNNING:
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_named_volumes_are_declared_and_hold_data_artifacts_and_databases() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = str(mount).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    mounts = {name: " ".join(s.get("volumes", [])) for name, s in SERVICES.items()}
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert ":/data" in mounts["redis"]
    assert ":/mlartifacts" in mounts["mlflow"]
    assert ":/data" in mounts["worker"]


def test_migrations_run_once_before_the_api_and_the_workers() -> None:
    assert SERVICES["prestart"]["command"] == ["ferbench", "db", "upgrade"]
    for name in ("api", "worker", "worker-cpu"):
        assert SERVICES[name]["depends_on"]["prestart"]["condition"] == "service_completed_successfully"


def test_worker_reserves_a_gpu_and_a_cpu_profile_exists() -> None:
    (device,) = SERVICES["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert SERVICES["worker-cpu"]["profiles"] == ["cpu"]
    assert "deploy" not in SERVICES["worker-cpu"]
    assert "tensorflow-cpu" in SERVICES["worker-cpu"]["build"]["args"]["TF_PACKAGE"]


def test_no_credentials_are_baked_in() -> None:
    for name, service in SERVICES.items():
        for key, value in env_of(name).items() if "environment" in service else []:
            if any(word in key for word in ("PASSWORD", "SECRET", "KEYS")):
                assert value == "" or value.startswith("${"), f"{name}: {key} has a literal value"
    assert "${POSTGRES_PASSWORD:?" in (ROOT / "docker-compose.yml").read_text()  # required, never defaulted
    for dockerfile in (ROOT / "Dockerfile", ROOT / "mlflow" / "Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            if line.strip().startswith(("ENV", "ARG")):
                assert not re.search(r"PASSWORD|SECRET|API_KEY", line), f"{dockerfile.name}: {line.strip()}"


def test_worker_command_is_the_documented_one_and_its_app_loads_without_tensorflow() -> None:
    from ferbench.queue import GPU_QUEUE, RUN_EXPERIMENT_TASK

    command = SERVICES["worker"]["command"]
    assert command[:4] == ["celery", "-A", "worker.celery_app", "worker"]
    assert command[command.index("-Q") + 1] == GPU_QUEUE
    assert command[command.index("-c") + 1] == "1" and "--max-tasks-per-child=1" in command
    # A fresh interpreter, as the worker's parent process is: the task registers, TensorFlow stays out.
    probe = (
        "import sys; from worker.celery_app import app; app.loader.import_default_modules(); "
        f"assert {RUN_EXPERIMENT_TASK!r} in app.tasks, sorted(app.tasks); "
        "bad = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]; assert not bad, bad"
    )
    env = {**os.environ, "FERBENCH_BROKER_URL": "redis://127.0.0.1:1/0"}  # never contacted on import
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_api_and_prestart_commands_exist() -> None:
    from ferbench.cli.main import cli

    command = SERVICES["api"]["command"]
    assert command[0] == "uvicorn" and "--factory" in command
    module_name, attr = command[1].split(":")
    assert callable(getattr(importlib.import_module(module_name), attr))
    db_group = cli.commands["db"]
    assert "upgrade" in db_group.commands  # type: ignore[attr-defined]


def test_dockerfile_stages_split_tensorflow_from_the_api() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, flags=re.M | re.S))
    assert {"base", "api", "worker"} <= set(stages)
    assert "tensorflow" not in stages["api"].lower()
    assert "TF_PACKAGE" in stages["worker"] and "tensorflow[and-cuda]" in stages["worker"]
    for name in ("api", "worker", "worker-cpu", "prestart"):
        assert SERVICES[name]["build"]["target"] in stages
    for folder in ("ferbench", "fer_models", "api", "worker"):
        assert f"COPY {folder} {folder}" in text and (ROOT / folder).is_dir()


def test_mlflow_image_entrypoint_exists_is_executable_and_is_not_python() -> None:
    entrypoint = ROOT / "mlflow" / "entrypoint.sh"
    assert entrypoint.read_text().startswith("#!/bin/sh")
    assert entrypoint.stat().st_mode & stat.S_IXUSR
    dockerfile = (ROOT / "mlflow" / "Dockerfile").read_text()
    assert "COPY --chmod=0755 entrypoint.sh" in dockerfile
    assert not list((ROOT / "mlflow").glob("*.py")), "a .py file in mlflow/ would shadow the mlflow package"
    assert SERVICES["mlflow"]["build"]["context"] == "./mlflow"
    text = entrypoint.read_text()
    for flag in ("--allowed-hosts", "--cors-allowed-origins", "--serve-artifacts", "--artifacts-destination", "--app-name basic-auth"):
        assert flag in text
    assert os.access(entrypoint, os.X_OK)


def test_the_api_does_not_announce_its_server_software() -> None:
    assert "--no-server-header" in SERVICES["api"]["command"]
    api_stage = (ROOT / "Dockerfile").read_text().split("AS api", 1)[1].split("FROM ", 1)[0]
    (cmd,) = [line for line in api_stage.splitlines() if line.startswith("CMD ")]
    assert "--no-server-header" in cmd


def test_only_the_api_and_the_tracking_ui_leave_the_internal_network() -> None:
    assert COMPOSE["networks"]["backend"].get("internal") is True
    assert not COMPOSE["networks"]["frontend"] or not COMPOSE["networks"]["frontend"].get("internal")
    outside = {name for name, s in SERVICES.items() if "frontend" in s.get("networks", [])}
    assert outside == {"api", "mlflow"}, outside
    published = {name for name, s in SERVICES.items() if s.get("ports")}
    assert published == {"api", "mlflow"}, published
    for name, service in SERVICES.items():
        assert service.get("networks"), f"{name} would join the default (non-internal) network"
        assert "network_mode" not in service, f"{name} bypasses the compose networks"
    (mlflow_port,) = SERVICES["mlflow"]["ports"]
    assert resolve(mlflow_port).startswith("127.0.0.1:")  # the UI only on this machine unless configured


def test_secrets_can_come_from_files_and_never_enter_the_build_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "secrets", "*.db"} <= set(ignored)
    entrypoint = (ROOT / "mlflow" / "entrypoint.sh").read_text()
    for name in ("POSTGRES_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert f"from_file {name}" in entrypoint, name
    # Never on a command line (visible in `ps`) nor echoed into the log.
    assert "echo \"$POSTGRES_PASSWORD" not in entrypoint and "set -x" not in entrypoint


def test_mlflow_basic_auth_is_wired_through_compose() -> None:
    env = env_of("mlflow")
    for name in ("MLFLOW_AUTH", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert resolve(env[name]) == "", f"{name} must be opt-in and have no default value"
    for client in ("api", "worker"):
        assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= set(env_of(client))
    assert "CREATE DATABASE mlflow_auth" in COMPOSE["configs"]["postgres-init"]["content"]
    assert '"mlflow[auth]==' in (ROOT / "mlflow" / "Dockerfile").read_text()


def _entrypoint_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "POSTGRES_"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", HOME=str(tmp_path),
               MLFLOW_HOST="127.0.0.1", MLFLOW_PORT=str(port), MLFLOW_ALLOWED_HOSTS=f"127.0.0.1:{port}",
               MLFLOW_BACKEND_STORE_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
               MLFLOW_ARTIFACTS_DESTINATION=str(tmp_path / "artifacts"), **extra)
    return env


def test_mlflow_entrypoint_refuses_basic_auth_without_its_secrets(tmp_path: Path) -> None:
    env = _entrypoint_env(tmp_path, 1, MLFLOW_AUTH="basic-auth", MLFLOW_AUTH_DATABASE_URI="sqlite://")
    done = subprocess.run(["sh", str(ROOT / "mlflow" / "entrypoint.sh")], env=env, capture_output=True,
                          text=True, check=False, timeout=30)
    assert done.returncode != 0 and "MLFLOW_AUTH_ADMIN_PASSWORD" in done.stderr
    both = {**env, "MLFLOW_AUTH_ADMIN_PASSWORD": "x", "MLFLOW_AUTH_ADMIN_PASSWORD_FILE": str(tmp_path / "pw")}
    done = subprocess.run(["sh", str(ROOT / "mlflow" / "entrypoint.sh")], env=both, capture_output=True,
                          text=True, check=False, timeout=30)
    assert done.returncode != 0 and "not both" in done.stderr


@pytest.mark.services
def test_mlflow_entrypoint_runs_the_basic_auth_app_with_secrets_from_files(tmp_path: Path) -> None:
    import httpx

    from ferbench.services.redis_server import free_port

    password = "adm1n-pw-from-a-secret-file"
    (tmp_path / "admin_password").write_text(password)
    (tmp_path / "flask_key").write_text("flask-secret-from-a-file")
    port = free_port()
    env = _entrypoint_env(tmp_path, port, MLFLOW_AUTH="basic-auth",
                          MLFLOW_AUTH_ADMIN_PASSWORD_FILE=str(tmp_path / "admin_password"),
                          MLFLOW_FLASK_SERVER_SECRET_KEY_FILE=str(tmp_path / "flask_key"),
                          MLFLOW_AUTH_DATABASE_URI=f"sqlite:///{tmp_path / 'auth.db'}")
    log = tmp_path / "mlflow.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(["sh", str(ROOT / "mlflow" / "entrypoint.sh")], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    search = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        wait_until(lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200, timeout_s=120,
                   what=f"{base}/health", died=exited(server, "the entrypoint", log, lines=40), error=AssertionError,
                   retry_on=(httpx.TransportError,), interval_s=0.5)
        assert httpx.get(search, timeout=10).status_code == 401
        assert httpx.get(search, auth=("admin", "wrong"), timeout=10).status_code == 401
        assert httpx.get(search, auth=("admin", password), timeout=10).status_code == 200
    finally:
        stop_group(server, 20)
    assert password not in log.read_text()
