"""Waiting for a process that was just started: poll until it answers, and the last lines of its log when not.

One loop for every caller: `ferbench up`, the private Redis and MLflow servers, and the live processes
of the tests and the benchmarks (ferbench.testing).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def tail(path: Path | str, lines: int = 15, sep: str = "\n") -> str:
    """The last `lines` lines of a log file joined by `sep`; "" when it does not exist (yet) or cannot be read."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return sep.join(text.strip().splitlines()[-lines:])


def exited(process: subprocess.Popen[Any], name: str, log: Path | str | None = None, *, lines: int = 15,
           sep: str = "\n") -> Callable[[], str | None]:
    """A `died` for wait_until: once `process` has exited, "<name> exited with code N: <the log's last lines>"."""

    def message() -> str | None:
        if process.poll() is None:
            return None
        last = tail(log, lines, sep) if log is not None else ""
        return f"{name} exited with code {process.returncode}" + ((":\n" if sep == "\n" else ": ") + last if last else "")

    return message


def wait_until(
    check: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    died: Callable[[], str | None] = lambda: None,
    error: Callable[[str], BaseException] = TimeoutError,
    interval_s: float = 0.25,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> T:
    """Call `check` every `interval_s` until it returns something true, and return that.

    A check that raises one of `retry_on` counts as "not yet" (a server not listening, a row not
    there yet). Before each try `died` says whether a process we wait on has exited: its message is
    raised at once as `error(message)` rather than after the timeout. After `timeout_s` it raises
    `error("timed out after N s waiting for <what>")`, with the check's last exception if any.
    """
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        message = died()
        if message:
            raise error(message)
        try:
            value = check()
        except retry_on as exc:
            last = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise error(f"timed out after {timeout_s:.0f} s waiting for {what}" + (f" (last error: {last!r})" if last else ""))
        time.sleep(interval_s)
