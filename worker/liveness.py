"""Is the process that holds a job still alive? Answerable only for processes on this host.

A row's `worker` is `host:pid` of the pool process that claimed it (`worker_name()`). A
redelivery right after a crash comes while the dead holder's heartbeat is still fresh; on the same
host its pid tells the truth at once. For another host only the heartbeat can tell (the reaper's job).
"""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """This process as a row's holder: `host:pid`, the form holder_alive reads back."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_alive(worker: str | None) -> bool:
    """False only when the holder ran on this host and its pid is gone; unknown holders count as alive."""
    if not worker or ":" not in worker:
        return True
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
