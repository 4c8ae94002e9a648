"""JSON columns: decoded by orjson, and still readable where an older writer stored NaN."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ferbench.db import experiments
from ferbench.db import session as db_session


def test_json_columns_are_decoded_by_orjson_and_nan_still_reads(
        session_factory: Callable[[], Session], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class CountingOrjson:
        JSONDecodeError = orjson.JSONDecodeError

        @staticmethod
        def loads(data: Any) -> Any:
            calls.append(data)
            return orjson.loads(data)

    monkeypatch.setattr(db_session, "orjson", CountingOrjson)
    session = session_factory()
    (row,) = experiments.create_experiments(session, [{"model": "cnn-small", "dataset": "synthetic", "epochs": 2}],
                                     enqueue=lambda _id: None).experiments
    # json.dumps writes NaN, which orjson refuses: a progress row from such a writer must still read.
    # (PostgreSQL's json type refuses NaN itself, so only SQLite can hold one.)
    on_sqlite = session.get_bind().dialect.name == "sqlite"
    progress = '{"epoch": 1, "val_loss": NaN}' if on_sqlite else '{"epoch": 1, "val_loss": null}'
    session.execute(text("UPDATE experiments SET progress = :p WHERE id = :id"), {"p": progress, "id": row.id})
    session.commit()
    session.close()
    fresh = session_factory()
    got = experiments.get_experiment(fresh, row.id)
    assert got is not None and got.spec["model"] == "cnn-small"
    assert got.progress["epoch"] == 1
    assert math.isnan(got.progress["val_loss"]) if on_sqlite else got.progress["val_loss"] is None
    assert calls, "the engine decodes JSON columns without orjson"
    fresh.close()
