"""`ferbench sweep`'s --space options become POST /sweeps' space; a malformed one is one line, before any request."""

from __future__ import annotations

import pytest

from ferbench.cli.main import main
from ferbench.cli.sweep_commands import BadSpace, parse_space


def test_space_options_become_the_api_space() -> None:
    assert parse_space(("learning_rate=log:1e-4..1e-2", "hp.filters=choice:16,32,64", "epochs=int:2..8:2",
                        "optimizer=choice:adam,sgd", "weight_decay=float:0..1e-3")) == {
        "learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-2},
        "hp.filters": {"kind": "choice", "values": [16, 32, 64]},
        "epochs": {"kind": "int", "low": 2.0, "high": 8.0, "step": 2.0},
        "optimizer": {"kind": "choice", "values": ["adam", "sgd"]},
        "weight_decay": {"kind": "float", "low": 0.0, "high": 1e-3},
    }


@pytest.mark.parametrize("option", ["learning_rate", "lr=uniform:1..2", "lr=log:1e-4", "lr=float:a..b", "=choice:1"])
def test_a_malformed_space_is_refused_with_the_accepted_forms(option: str) -> None:
    with pytest.raises(BadSpace, match="NAME=choice:A,B,C"):
        parse_space((option,))


def test_the_cli_prints_one_line_and_fails_without_calling_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--model", "cnn-small", "--space", "lr=log:1e-4", "--trials", "3",
              "--api-url", "http://127.0.0.1:9"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--space 'lr=log:1e-4'" in err[0]
