"""Request-body schemas for routes that parse their body themselves (to answer every bad field in one 422).

Pydantic puts nested models under a local `$defs`, which OpenAPI viewers cannot resolve (ReDoc stops
rendering at the first one), so the definitions are inlined where they are used.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `#/$defs/...` reference replaced by its definition (the models are not recursive)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")]) | {k: resolve(v) for k, v in node.items() if k != "$ref"}
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route whose required JSON body is `schema`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline_defs(schema)}}}}


def model_body(model: type[BaseModel]) -> dict[str, Any]:
    return json_body(model.model_json_schema())
