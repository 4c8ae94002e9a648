"""Stopping a child that leads its own process group (started with start_new_session=True)."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import ClassVar, Self


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the whole group, SIGKILL to whatever is left after `grace_s`."""
    pgid = process.pid  # the child leads its own group
    if process.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while its children (pool processes, server workers) linger.
    _signal_group(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(5)


class GroupLeader:
    """Mixin for a dataclass holding `process`, a child that leads its own process group."""

    process: subprocess.Popen[bytes] | None
    stop_grace_s: ClassVar[float] = 10.0

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM to the child's whole group, SIGKILL after `timeout` (the class's grace when None)."""
        if self.process is not None:
            stop_group(self.process, self.stop_grace_s if timeout is None else timeout)
        self.process = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
