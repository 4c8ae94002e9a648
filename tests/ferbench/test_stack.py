"""`ferbench up` as its users run it: a subprocess on a fresh state folder, used once, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferbench.services.ports import free_port
from ferbench.settings import Settings
from ferbench.stack import Stack, StackError, _redact, migrate
from ferbench.testing.face_folders import write_face_folders

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children start their own sessions, so walk parent links in /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def run_json(command: list[str], env: dict[str, str]) -> Any:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def kill_tree(up: subprocess.Popen[str]) -> None:
    """SIGKILL a launcher that is still running and everything below it (a failed test's cleanup)."""
    if up.poll() is None:
        for pid in descendants(up.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        up.kill()
        up.wait()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_busy_api_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(Settings(home=tmp_path, api_port=port))
        with pytest.raises(StackError, match=f"port {port} .*FERBENCH_API_PORT"):
            stack.start()
    assert not stack.children
    assert not (tmp_path / "ferbench.db").exists()  # nothing was migrated or started


def test_printed_urls_never_show_a_password() -> None:
    assert _redact("postgresql+psycopg://ferbench:s3cret@db:5432/ferbench") == "postgresql+psycopg://ferbench:***@db:5432/ferbench"
    assert _redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_migrations_run_in_the_launcher_and_log_to_the_state_folder(tmp_path: Path) -> None:
    from ferbench.db.migrate import current_revision

    url = f"sqlite:///{tmp_path / 'ferbench.db'}"
    migrate(url, tmp_path / "logs")
    assert current_revision(url) is not None
    assert "Running upgrade" in (tmp_path / "logs" / "migrate.log").read_text()
    (tmp_path / "not-a-database").write_text("plain text")
    with pytest.raises(StackError, match="database migration of sqlite:///.*not-a-database failed: "):
        migrate(f"sqlite:///{tmp_path / 'not-a-database'}", tmp_path / "logs")


@pytest.mark.services
@pytest.mark.slow
def test_up_serves_one_submission_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FERBENCH_BROKER_URL", "MLFLOW_TRACKING_URI", "FERBENCH_DATABASE_URL")}
    api_port, mlflow_port = free_port(), free_port()
    env.update(FERBENCH_HOME=str(tmp_path / "home"), FERBENCH_DATA_DIR=str(tmp_path / "data"),
               FERBENCH_API_PORT=str(api_port), FERBENCH_MLFLOW_PORT=str(mlflow_port), CUDA_VISIBLE_DEVICES="",
               FERBENCH_SERVE_PORT=str(free_port()))
    write_face_folders(tmp_path / "data", "faces", n=140)  # tiny: the stack is under test, not training
    up = subprocess.Popen([sys.executable, "-m", "ferbench.cli.main", "up"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:  # blocks until `up` prints the URLs (or dies)
            output.append(line)
            if line.startswith("Leaderboard:"):
                break
        printed = "".join(output)
        assert up.poll() is None, f"ferbench up exited early:\n{printed}"
        api = f"http://127.0.0.1:{api_port}"
        assert f"{api}/docs" in printed and f"http://127.0.0.1:{mlflow_port}" in printed and f"{api}/leaderboard" in printed
        assert " INFO " not in printed, printed  # MLflow's own log lines stay out of the launcher's output
        assert httpx.get(f"{api}/health", timeout=10).status_code == 200

        # The CLI's HTTP commands, against the real server: submit, wait, status, leaderboard.
        cli = [sys.executable, "-m", "ferbench.cli.main"]
        submitted = run_json(cli + ["submit", "--model", "cnn-small", "--dataset", "faces", "--epochs", "1", "--wait", "--json", "--api-url", api], env)
        (exp,) = submitted
        assert exp["status"] == "succeeded", exp.get("error")
        status = run_json(cli + ["status", exp["id"], "--json", "--api-url", api], env)
        assert status["mlflow_run_id"] and status["status"] == "succeeded"
        assert status["created_at"].endswith(("Z", "+00:00")) and status["finished_at"].endswith(("Z", "+00:00"))
        shown = subprocess.run(cli + ["status", exp["id"], "--api-url", api], env=env, capture_output=True, text=True,
                               timeout=60).stdout
        assert re.search(r"^ +accuracy +0\.\d{4}$", shown, re.M) and re.search(r"^ +params +[\d,]+$", shown, re.M), shown
        board = run_json(cli + ["leaderboard", "--metric", "f1_macro", "--json", "--api-url", api], env)
        assert [e["experiment_id"] for e in board] == [exp["id"]]
        missing = subprocess.run(cli + ["status", "no-such-id", "--api-url", api], env=env, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 1 and "404" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1

        children = descendants(up.pid)
        assert len(children) >= 5  # redis, mlflow, worker (+ its pool), serving process, api
        up.send_signal(signal.SIGINT)
        assert up.wait(90) == 0
        deadline = time.monotonic() + 10
        while (left := [pid for pid in children if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"orphan processes after Ctrl-C: {left}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{api}/health", timeout=2)

        # The in-process commands read the service's runs from the same default store, its server stopped.
        evaluated = run_json(cli + ["evaluate", "--model", "cnn-small", "--json"], env)
        assert evaluated["run_id"] == status["mlflow_run_id"]
        assert evaluated["metrics"]["accuracy"] == pytest.approx(status["metrics"]["accuracy"])
    finally:
        kill_tree(up)
