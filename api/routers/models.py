"""GET /models: the TF-free model catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import require_read_key
from api.schemas import ModelOut

router = APIRouter(tags=["models"], dependencies=[Depends(require_read_key)])


@router.get("/models", response_model=list[ModelOut])
def models() -> list[dict[str, Any]]:
    """Every model: name, family, description, defaults, hyperparameter schema, input sizes."""
    from fer_models.models.registry import get_model_info, list_models

    return [get_model_info(name).to_dict() for name in list_models()]
