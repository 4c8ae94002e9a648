"""What `ferbench up` prints once the stack is healthy: the web pages' address comes first."""

from __future__ import annotations

import pytest

from ferbench.cli.service_commands import _print_urls
from ferbench.stack import StackUrls


def test_the_pages_address_is_printed_first(capsys: pytest.CaptureFixture[str]) -> None:
    api = "http://127.0.0.1:8000"
    _print_urls(StackUrls(api=api, docs=f"{api}/docs", leaderboard=f"{api}/leaderboard",
                          mlflow_ui="http://127.0.0.1:5000", broker="redis://127.0.0.1:6379/0", database="sqlite:///x"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Web pages:    {api}/"
    assert lines[1] == f"API docs:     {api}/docs"
