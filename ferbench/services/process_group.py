"""Stopping a child that leads its own process group (started with start_new_session=True)."""

from __future__ import annotations

import os
import signal
import subprocess


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
