"""Property-based fuzzing of every endpoint from the app's own OpenAPI spec (Schemathesis + Hypothesis).

The app runs in-process on a real, migrated SQLite database with a private redis-server as the
broker. Whatever the input, the answer is never a 500 and never shows internals (traces, file
paths, module or exception names).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error

from api.main import create_app
from ferbench.services.mlflow_server import MlflowServer
from ferbench.services.redis_server import RedisServer
from ferbench.settings import Settings
from ferbench.testing.databases import migrated_database
from ferbench.testing.live_serve import live_serve
from ferbench.testing.registered_models import build_model, register_model

ROOT = Path(__file__).resolve().parents[2]  # the checkout: an absolute path in a body is a leak
MAX_EXAMPLES = 80
# What a leaked trace or internal error looks like in a body.
LEAKS = re.compile(
    r"Traceback|File \"|site-packages|" + re.escape(str(ROOT)) + r"|\.py\b|sqlalchemy|psycopg|pydantic_core|kombu|redis\.exceptions|"
    r"\b\w+(?:Error|Exception)\b(?!\s*\()|<object at 0x|\b0x[0-9a-f]{8,}",
)


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
               mlflow_server: MlflowServer) -> Iterator[object]:
    home = tmp_path_factory.mktemp("fuzz")
    # POST /predict is fuzzed through to a real serving process with a registered champion.
    register_model(mlflow_server.url, build_model("cnn-small", 0), name="fer-emotion", alias="champion",
                   experiment_id="fuzz")
    with migrated_database("sqlite", home) as url, live_serve(home=home, tracking_uri=mlflow_server.url) as serve:
        # The champion loaded before fuzzing: its first load may outlast the fuzzer's 10 s read timeout.
        warm = io.BytesIO()
        Image.new("L", (48, 48), 128).save(warm, "PNG")
        httpx.post(f"{serve.url}/predict", params={"faces": "cropped"}, timeout=120,
                   files={"image": ("warm.png", warm.getvalue())}).raise_for_status()
        settings_ = Settings(home=home, data_dir=home / "data", database_url=url, broker_url=redis_server.url,
                             mlflow_tracking_uri=mlflow_server.url, api_keys="fuzz-key", max_epochs=5,
                             serve_url=serve.url)
        yield create_app(settings_)


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: object) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


def _operations() -> list[tuple[str, str]]:
    # Creating the app opens no connection: its spec is read here only to list the operations.
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def no_internals_in_the_body(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    sent = f"{case.path_parameters} {case.query} {case.headers} {case.body}"
    for match in LEAKS.finditer(response.text):
        # A 422 may quote the client's own value back; that is not a leak.
        assert match.group(0) in sent, f"{response.status_code} answer shows {match.group(0)!r}: {response.text[:500]}"


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_endpoint_answers_500_or_shows_internals(api_schema: schemathesis.BaseSchema, method: str, path: str) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(), with_key=st.booleans())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: schemathesis.Case, with_key: bool) -> None:
        # With and without the key, so the handlers behind the key check are fuzzed too.
        headers = {"X-API-Key": "fuzz-key"} if with_key else None
        case.call_and_validate(headers=headers, checks=[not_a_server_error, no_internals_in_the_body])

    fuzz()


def test_the_leak_pattern_catches_what_it_should(tmp_path: Path) -> None:
    for leak in ('Traceback (most recent call last):', 'File "/srv/app/api/main.py", line 3',
                 "sqlalchemy.exc.OperationalError", "IntegrityError", "KeyError: 'x'"):
        assert LEAKS.search(leak), leak
    for fine in ("field required", "unknown dataset 'x'; available: synthetic", "value_error"):
        assert not LEAKS.search(fine), fine
