"""The one wait-until-it-answers loop and the last lines of a log, as every launcher uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ferbench.services.readiness import exited, tail, wait_until


def test_tail_is_the_last_lines_and_empty_for_a_missing_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert tail(log) == ""
    log.write_text("".join(f"line {i}\n" for i in range(20)))
    assert tail(log, 3) == "line 17\nline 18\nline 19"
    assert tail(log, 2, sep=" | ") == "line 18 | line 19"


def test_returns_the_first_true_value_and_retries_errors() -> None:
    answers = iter([ConnectionError("not yet"), 0, "up"])

    def check() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(check, timeout_s=5, what="x", interval_s=0.01) == "up"


def test_times_out_naming_what_and_the_last_error() -> None:
    def check() -> bool:
        raise ConnectionRefusedError("refused")

    with pytest.raises(RuntimeError, match=r"timed out after 0 s waiting for the thing .*refused"):
        wait_until(check, timeout_s=0.05, what="the thing", error=RuntimeError, interval_s=0.01)


def test_an_unexpected_error_is_not_retried_when_retry_on_is_narrowed() -> None:
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, timeout_s=5, what="x", retry_on=(OSError,))


def test_a_dead_process_stops_the_wait_at_once_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], stdout=out)
    process.wait(30)
    with pytest.raises(RuntimeError) as info:
        wait_until(lambda: False, timeout_s=60, what="x", died=exited(process, "child", log), error=RuntimeError)
    assert str(info.value) == "child exited with code 3:\nbad config"
